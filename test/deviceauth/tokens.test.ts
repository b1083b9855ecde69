import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { stopServices } from '../../src/app.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { acceptedDevice, authenticate, findDevice } from '../helpers/device.ts'

// Device keys (RSA among them) are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(30_000)

const MGMT = '/api/management/v2/devauth'
const VERIFY = '/api/internal/v1/devauth/tokens/verify'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp({ BENDER_DEVICE_TOKEN_TTL: '3600' })
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const verify = async (token: string, method = 'POST') => (await t.call(method, VERIFY, { token })).status

describe('tokens/verify for an outside gateway', () => {
  test('200 for a live device token (POST and GET), 401 for anything else', async () => {
    const { token } = await acceptedDevice(t, admin)
    expect(await verify(token)).toBe(200)
    expect(await verify(token, 'GET')).toBe(200)
    expect(await verify(admin)).toBe(401)
    expect(await verify('not.a.token')).toBe(401)
    expect(await verify(`${token.slice(0, -4)}AAAA`)).toBe(401)
    const none = await t.call('POST', VERIFY)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="DeviceJWT"')
  })
})

describe('a token stops working at once (even while cached) when', () => {
  test('it is revoked; the device then gets a new one', async () => {
    const { device, authSetId, token } = await acceptedDevice(t, admin)
    expect(await verify(token)).toBe(200)
    expect((await t.call('DELETE', `${MGMT}/tokens/${authSetId}`, { token: admin })).status).toBe(204)
    expect(await verify(token)).toBe(401)
    expect((await t.call('DELETE', `${MGMT}/tokens/${authSetId}`, { token: admin })).status).toBe(404)
    const again = await authenticate(t, device)
    expect(again.status).toBe(200)
    expect(await verify(again.text)).toBe(200)
  })

  test('its auth set is rejected, or sent back to pending', async () => {
    for (const status of ['rejected', 'pending']) {
      const { id, authSetId, token } = await acceptedDevice(t, admin)
      expect(await verify(token)).toBe(200)
      await t.call('PUT', `${MGMT}/devices/${id}/auth/${authSetId}/status`, {
        token: admin,
        body: { status },
      })
      expect(await verify(token)).toBe(401)
    }
  })

  test('another auth set of the device is accepted (key rotation)', async () => {
    const { device, id, token } = await acceptedDevice(t, admin)
    device.rotateKey()
    await authenticate(t, device)
    const rotated = (await findDevice(t, admin, device)).auth_sets[1].id
    expect(await verify(token)).toBe(200)
    await t.call('PUT', `${MGMT}/devices/${id}/auth/${rotated}/status`, {
      token: admin,
      body: { status: 'accepted' },
    })
    expect(await verify(token)).toBe(401)
    expect(await verify((await authenticate(t, device)).text)).toBe(200)
  })

  test('its auth set is deleted', async () => {
    const { id, authSetId, token } = await acceptedDevice(t, admin)
    expect(await verify(token)).toBe(200)
    expect((await t.call('DELETE', `${MGMT}/devices/${id}/auth/${authSetId}`, { token: admin })).status).toBe(
      204,
    )
    expect(await verify(token)).toBe(401)
  })

  test('the device is decommissioned', async () => {
    const { id, token } = await acceptedDevice(t, admin)
    expect(await verify(token)).toBe(200)
    expect((await t.call('DELETE', `${MGMT}/devices/${id}`, { token: admin })).status).toBe(204)
    expect(await verify(token)).toBe(401)
  })

  test('it expires (401, so the client authenticates again)', async () => {
    const { device, token } = await acceptedDevice(t, admin)
    expect(await verify(token)).toBe(200)
    t.clock.advance(3601)
    expect(await verify(token)).toBe(401)
    const fresh = await authenticate(t, device)
    expect(await verify(fresh.text)).toBe(200)
  })
})

describe('check-in time', () => {
  const inventoryCheckIn = async (id: string) =>
    (
      await t.call('GET', `/api/management/v1/inventory/devices/${id}`, { token: admin })
    ).json.attributes.find(
      (a: { scope: string; name: string }) => a.scope === 'system' && a.name === 'check_in_time',
    )?.value

  test('is set when the device authenticates; its requests move it (here and in inventory), at most once a minute, once the buffer is written', async () => {
    const { id, token } = await acceptedDevice(t, admin)
    const checkIn = async () =>
      (await t.call('GET', `${MGMT}/devices/${id}`, { token: admin })).json.check_in_time
    expect(await checkIn()).toBe(t.clock.now().toISOString())
    t.clock.advance(30)
    await verify(token)
    // Buffered in memory, not written by the request itself.
    const firstRequest = t.clock.now().toISOString()
    expect(await checkIn()).not.toBe(firstRequest)
    await t.services.deviceauth.flushCheckIns()
    expect(await checkIn()).toBe(firstRequest)
    t.clock.advance(30)
    await verify(token)
    await t.services.deviceauth.flushCheckIns()
    expect(await checkIn()).toBe(firstRequest)
    t.clock.advance(31)
    await verify(token)
    await t.services.deviceauth.flushCheckIns()
    expect(await checkIn()).toBe(t.clock.now().toISOString())
    expect(await inventoryCheckIn(id)).toBe(t.clock.now().toISOString())
  })

  test('what is still buffered is written when the services stop', async () => {
    const stopped = await createTestApp({ BENDER_DEVICE_TOKEN_TTL: '3600' })
    const saved = t
    t = stopped
    try {
      admin = (await loginAs(t)).token
      const { id, token } = await acceptedDevice(t, admin)
      t.clock.advance(45)
      await verify(token)
      await stopServices(t.services)
      expect((await t.call('GET', `${MGMT}/devices/${id}`, { token: admin })).json.check_in_time).toBe(
        t.clock.now().toISOString(),
      )
    } finally {
      t = saved
      admin = (await loginAs(t)).token
      await stopped.close()
    }
  })
})
