import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { acceptedDevice } from '../helpers/device.ts'
import { waitFor } from '../helpers/server.ts'
import { adminOf, UPGRADE_HEADERS } from './helpers.ts'

const MGMT = '/api/management/v1/deviceconnect'

let t: TestApp
let admin: string
let deviceId: string

beforeAll(async () => {
  t = await createTestApp()
  admin = await adminOf(t)
  deviceId = (await acceptedDevice(t, admin)).id
})

afterAll(() => t?.close())

const form = (fields: Record<string, string>, file?: string) => {
  const data = new FormData()
  for (const [name, value] of Object.entries(fields)) data.append(name, value)
  if (file !== undefined) data.append('file', new Blob([file]), 'local.txt')
  return data
}

describe('deviceconnect management API', () => {
  test('an accepted device that never connected is known as disconnected', async () => {
    const res = await t.call('GET', `${MGMT}/devices/${deviceId}`, { token: admin })
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ device_id: deviceId, status: 'disconnected' })
    expect(res.json.created_ts).toBeString()
  })

  test("an unknown device is a 404 in Mender's error shape; no token is a 401", async () => {
    const res = await t.call('GET', `${MGMT}/devices/nope`, { token: admin })
    expect(res.status).toBe(404)
    expect(res.json).toEqual({ error: 'device not found', request_id: expect.any(String) })
    expect((await t.call('GET', `${MGMT}/devices/${deviceId}`)).status).toBe(401)
  })

  test.each([
    ['POST', 'check-update'],
    ['POST', 'send-inventory'],
  ])('%s %s to a disconnected device is a 404', async (method, action) => {
    const res = await t.call(method, `${MGMT}/devices/${deviceId}/${action}`, { token: admin })
    expect(res.status).toBe(404)
    expect(res.json.error).toBe('failed to connect to device: device disconnected')
  })

  test('a session to a disconnected device is refused before the upgrade', async () => {
    const res = await t.call('GET', `${MGMT}/devices/${deviceId}/connect`, {
      token: admin,
      headers: UPGRADE_HEADERS,
    })
    expect(res.status).toBe(404)
  })

  test('download: the path must be absolute; a disconnected device is a 409', async () => {
    expect(
      (await t.call('GET', `${MGMT}/devices/${deviceId}/download?path=etc/passwd`, { token: admin })).status,
    ).toBe(400)
    expect((await t.call('GET', `${MGMT}/devices/${deviceId}/download`, { token: admin })).status).toBe(400)
    const res = await t.call('GET', `${MGMT}/devices/${deviceId}/download?path=/etc/hostname`, {
      token: admin,
    })
    expect(res.status).toBe(409)
  })

  test('upload: a form is required, with an absolute path before the file', async () => {
    const upload = (body: string | FormData, headers: Record<string, string> = {}) =>
      t.call('PUT', `${MGMT}/devices/${deviceId}/upload`, { token: admin, raw: body, headers })
    expect((await upload('{}', { 'content-type': 'application/json' })).status).toBe(400)
    expect((await upload(form({}, 'x'))).json.error).toBe('path: cannot be blank.')
    expect((await upload(form({ path: 'relative' }, 'x'))).json.error).toBe('path: must be absolute.')
    expect((await upload(form({ path: '/tmp/x', mode: '999' }, 'x'))).status).toBe(400)
    expect((await upload(form({ path: '/tmp/x' }))).json.error).toBe('file: cannot be blank.')
    expect((await upload(form({ path: '/tmp/x', uid: '0', mode: '0644' }, 'x'))).status).toBe(409)
  })

  test('the session list pages the Mender way; an unknown session cannot be played back', async () => {
    const list = await t.call('GET', `${MGMT}/sessions`, { token: admin })
    expect(list.status).toBe(200)
    // Transfers refused before reaching a device open no session.
    expect(list.headers.get('x-total-count')).toBe('0')
    expect(list.json).toEqual([])
    expect((await t.call('GET', `${MGMT}/sessions?per_page=501`, { token: admin })).status).toBe(400)
    const playback = await t.call('GET', `${MGMT}/sessions/nope/playback`, {
      token: admin,
      headers: UPGRADE_HEADERS,
    })
    expect(playback.status).toBe(404)
  })

  test('a decommissioned device is forgotten', async () => {
    const other = await acceptedDevice(t, admin)
    expect(
      (await t.call('DELETE', `/api/management/v2/devauth/devices/${other.id}`, { token: admin })).status,
    ).toBe(204)
    // The decommission workflow runs after the commit and may finish later (as in Mender).
    const gone = await waitFor(
      'deviceconnect to forget the device',
      async () => {
        const { status } = await t.call('GET', `${MGMT}/devices/${other.id}`, { token: admin })
        return status === 404 ? status : undefined
      },
      5_000,
    )
    expect(gone).toBe(404)
  })

  test('health and alive', async () => {
    expect((await t.call('GET', '/api/internal/v1/deviceconnect/health')).status).toBe(204)
    expect((await t.call('GET', '/api/internal/v1/deviceconnect/alive')).status).toBe(204)
  })
})
