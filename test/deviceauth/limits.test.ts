import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { MAX_IDENTITY_BYTES, MAX_IDENTITY_KEYS } from '../../src/services/deviceauth/identity.ts'
import { MAX_PENDING_AUTH_SETS } from '../../src/services/deviceauth/service.ts'
import { MAX_PEM_LENGTH, parsePublicKey } from '../../src/services/deviceauth/signature.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { AUTH_REQUESTS, authenticate, findDevice, TestDevice } from '../helpers/device.ts'

// Device keys are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(60_000)

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const count = (table: string) => t.count(table)

/** Sends `device`'s auth request with other identity data, signed by the device's key. */
function sendIdentity(device: TestDevice, idData: string) {
  const body = `${JSON.stringify({ id_data: idData, tenant_token: '', pubkey: device.pubkey })}\n`
  return t.call('POST', AUTH_REQUESTS, { raw: body, headers: device.authHeaders(body) })
}

describe('a hostile pubkey', () => {
  test('many BEGIN lines without an END are refused before parsing', () => {
    const lines = '-----BEGIN A-----\n'.repeat(16_000)
    expect(() => parsePublicKey(lines)).toThrow(`public key longer than ${MAX_PEM_LENGTH} bytes`)
    expect(() => parsePublicKey('-----BEGIN A-----\n'.repeat(800))).toThrow('cannot decode public key')
  })

  test('an oversized pubkey is a 400 naming the limit, and stores nothing', async () => {
    const device = new TestDevice()
    const before = await count('deviceauth_devices')
    const body = `${JSON.stringify({ id_data: '{"mac":"x"}', pubkey: '-----BEGIN A-----\n'.repeat(16_000) })}\n`
    const res = await t.call('POST', AUTH_REQUESTS, { raw: body, headers: device.authHeaders(body) })
    expect(res.status).toBe(400)
    expect(res.json.error).toBe(`invalid auth request: public key longer than ${MAX_PEM_LENGTH} bytes`)
    expect(await count('deviceauth_devices')).toBe(before)
  })

  test('a valid key after junk lines is still found', () => {
    const device = new TestDevice()
    const pem = `junk\n-----BEGIN A-----\nnot closed\n${device.pubkey}`
    expect(parsePublicKey(pem).pem).toBe(device.pubkey)
  })
})

describe('bounded identity data', () => {
  test(`more than ${MAX_IDENTITY_KEYS} keys, signed by the key it carries, is refused and nothing is interned`, async () => {
    const device = new TestDevice()
    const names = await count('inventory_attribute_names')
    const devices = await count('deviceauth_devices')
    const keys = Object.fromEntries(Array.from({ length: MAX_IDENTITY_KEYS + 1 }, (_, i) => [`k${i}`, 'v']))
    const res = await sendIdentity(device, JSON.stringify(keys))
    expect(res.status).toBe(400)
    expect(res.json.error).toBe(`invalid auth request: identity data has more than ${MAX_IDENTITY_KEYS} keys`)
    expect(await count('inventory_attribute_names')).toBe(names)
    expect(await count('deviceauth_devices')).toBe(devices)
  })

  test(`more than ${MAX_IDENTITY_BYTES} bytes is refused`, async () => {
    const device = new TestDevice()
    const res = await sendIdentity(device, JSON.stringify({ mac: 'x'.repeat(MAX_IDENTITY_BYTES) }))
    expect(res.status).toBe(400)
    expect(res.json.error).toBe(`invalid auth request: identity data longer than ${MAX_IDENTITY_BYTES} bytes`)
  })

  test('a preauthorization is bounded the same way', async () => {
    const keys = Object.fromEntries(Array.from({ length: MAX_IDENTITY_KEYS + 1 }, (_, i) => [`k${i}`, 'v']))
    const res = await t.call('POST', '/api/management/v2/devauth/devices', {
      token: admin,
      body: { identity_data: keys, pubkey: new TestDevice().pubkey },
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toContain(`more than ${MAX_IDENTITY_KEYS} keys`)
  })

  test(`exactly ${MAX_IDENTITY_KEYS} keys are accepted`, async () => {
    const identity = Object.fromEntries(Array.from({ length: MAX_IDENTITY_KEYS }, (_, i) => [`key${i}`, 'v']))
    const res = await authenticate(t, new TestDevice(identity))
    expect(res.status).toBe(401)
  })
})

test(`a device holds at most ${MAX_PENDING_AUTH_SETS} pending auth sets; the oldest pending goes first`, async () => {
  const device = new TestDevice()
  expect((await authenticate(t, device)).status).toBe(401)
  const first = await findDevice(t, admin, device)
  const accepted = await t.call(
    'PUT',
    `/api/management/v2/devauth/devices/${first.id}/auth/${first.auth_sets[0].id}/status`,
    { token: admin, body: { status: 'accepted' } },
  )
  expect(accepted.status).toBe(204)
  const pems: string[] = []
  for (let i = 0; i < MAX_PENDING_AUTH_SETS + 5; i++) {
    device.rotateKey('ed25519')
    pems.push(device.pubkey)
    expect((await authenticate(t, device)).status).toBe(401)
  }
  const listed = await findDevice(t, admin, device)
  const statuses = listed.auth_sets.map((set: { status: string }) => set.status)
  expect(statuses.filter((s: string) => s === 'pending')).toHaveLength(MAX_PENDING_AUTH_SETS)
  expect(statuses.filter((s: string) => s === 'accepted')).toHaveLength(1)
  expect(listed.status).toBe('accepted')
  const kept = listed.auth_sets
    .filter((set: { status: string }) => set.status === 'pending')
    .map((s: any) => s.pubkey)
  expect(kept).toEqual(pems.slice(-MAX_PENDING_AUTH_SETS))
})
