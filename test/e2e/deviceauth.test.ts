import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { loginAs } from '../helpers/app.ts'
import { AUTH_REQUESTS, TestDevice } from '../helpers/device.ts'
import { createMenderClient, menderBinary } from '../helpers/mender.ts'
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts'

const MGMT = '/api/management/v2/devauth'
/** What the client reports as installed (from its own artifact_info; the machine's /etc is untouched). */
const ARTIFACT_NAME = 'base-art'

let server: TestServer
let admin: string
let client: ReturnType<typeof createMenderClient>

const api = async (method: string, path: string, body?: unknown, token = admin) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await response.text()
  return { status: response.status, text, json: text ? JSON.parse(text) : undefined }
}

beforeAll(async () => {
  menderBinary()
  server = await startTestServer()
  admin = (await loginAs(server)).token
  client = createMenderClient(server.url, 'test-device', { artifactName: ARTIFACT_NAME })
})

afterAll(async () => {
  await client?.close()
  await server?.stop()
})

describe('the Debian mender client 3.4', () => {
  let deviceId: string
  let authSetId: string

  test('bootstraps: refused at first, it shows up as a pending device', async () => {
    const bootstrap = await client.run('bootstrap')
    expect(bootstrap.exitCode).not.toBe(0)
    expect(bootstrap.output).toContain('dev auth: unauthorized')
    const devices = (await api('GET', `${MGMT}/devices`)).json
    expect(devices).toHaveLength(1)
    expect(devices[0].status).toBe('pending')
    expect(Object.keys(devices[0].identity_data)).toEqual(['mac'])
    expect(devices[0].auth_sets[0].pubkey).toStartWith('-----BEGIN PUBLIC KEY-----\n')
    deviceId = devices[0].id
    authSetId = devices[0].auth_sets[0].id
  }, 60_000)

  test('once accepted, gets a token', async () => {
    expect(
      (await api('PUT', `${MGMT}/devices/${deviceId}/auth/${authSetId}/status`, { status: 'accepted' }))
        .status,
    ).toBe(204)
    const bootstrap = await client.run('bootstrap')
    expect(bootstrap.output).not.toContain('unauthorized')
    expect(bootstrap.exitCode).toBe(0)
    const device = (await api('GET', `${MGMT}/devices/${deviceId}`)).json
    expect(device.status).toBe('accepted')
    expect(device.check_in_time).toBeString()
  }, 60_000)

  test('the daemon reports its inventory; once rejected, its next request is refused', async () => {
    client.startDaemon()
    const attributes = await waitFor('the inventory', async () => {
      const res = await api('GET', `/api/management/v1/inventory/devices/${deviceId}`)
      const found =
        res.status === 200 ? (res.json.attributes as { name: string; value: unknown; scope: string }[]) : []
      const names = new Set(found.filter((a) => a.scope === 'inventory').map((a) => a.name))
      return ['device_type', 'artifact_name', 'mender_client_version'].every((name) => names.has(name))
        ? found
        : undefined
    })
    const value = (name: string) => attributes.find((a) => a.scope === 'inventory' && a.name === name)?.value
    expect(value('device_type')).toBe('test-device')
    expect(value('artifact_name')).toBe(ARTIFACT_NAME)
    expect(value('mender_client_version')).toStartWith('3.4.0')
    expect(attributes.find((a) => a.scope === 'identity' && a.name === 'status')?.value).toBe('accepted')

    expect(
      (await api('PUT', `${MGMT}/devices/${deviceId}/auth/${authSetId}/status`, { status: 'rejected' }))
        .status,
    ).toBe(204)
    const logBefore = client.daemonLog().length
    await waitFor('the daemon to be refused', () =>
      client.daemonLog().slice(logBefore).includes('dev auth: unauthorized') ? true : undefined,
    )
  }, 90_000)
})

describe('devices with other key types, by raw signed requests', () => {
  test.each(['P-256', 'ed25519'] as const)(
    '%s: pending, accepted, then a working token',
    async (keyType) => {
      const device = new TestDevice(undefined, keyType)
      const authenticate = () => {
        const body = device.authRequestBody()
        return fetch(`${server.url}${AUTH_REQUESTS}`, {
          method: 'POST',
          body,
          headers: device.authHeaders(body),
        })
      }
      expect((await authenticate()).status).toBe(401)
      const listed = (await api('GET', `${MGMT}/devices?status=pending`)).json.find((d: any) =>
        Bun.deepEquals(d.identity_data, device.identity),
      )
      expect(listed.auth_sets[0].pubkey).toBe(device.pubkey)
      await api('PUT', `${MGMT}/devices/${listed.id}/auth/${listed.auth_sets[0].id}/status`, {
        status: 'accepted',
      })
      const accepted = await authenticate()
      expect(accepted.status).toBe(200)
      expect(accepted.headers.get('content-type')).toBe('application/jwt')
      const token = await accepted.text()
      expect((await api('POST', '/api/internal/v1/devauth/tokens/verify', undefined, token)).status).toBe(200)
    },
    60_000,
  )
})
