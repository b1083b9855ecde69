import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { MAX_PEM_LENGTH, parsePublicKey } from '../../src/services/deviceauth/signature.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { AUTH_REQUESTS, TestDevice } from '../helpers/device.ts'

// Device keys are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(60_000)

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const count = (table: string) =>
  (t.deps.db.$client.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n

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
    const before = count('deviceauth_devices')
    const body = `${JSON.stringify({ id_data: '{"mac":"x"}', pubkey: '-----BEGIN A-----\n'.repeat(16_000) })}\n`
    const res = await t.call('POST', AUTH_REQUESTS, { raw: body, headers: device.authHeaders(body) })
    expect(res.status).toBe(400)
    expect(res.json.error).toBe(`invalid auth request: public key longer than ${MAX_PEM_LENGTH} bytes`)
    expect(count('deviceauth_devices')).toBe(before)
  })

  test('a valid key after junk lines is still found', () => {
    const device = new TestDevice()
    const pem = `junk\n-----BEGIN A-----\nnot closed\n${device.pubkey}`
    expect(parsePublicKey(pem).pem).toBe(device.pubkey)
  })
})
