import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { NotFoundError } from '../../src/gateway/errors.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { AUTH_REQUESTS, authenticate, findDevice, TestDevice } from '../helpers/device.ts'

// Device keys (RSA among them) are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(30_000)

const MGMT = '/api/management/v2/devauth'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

/** The device's identity scope in inventory (read through its service), or undefined when it has no such device. */
async function inventoryIdentity(deviceId: string): Promise<Record<string, unknown> | undefined> {
  let device: Awaited<ReturnType<TestApp['services']['inventory']['getDevice']>>['device']
  try {
    device = (await t.services.inventory.getDevice('', deviceId)).device
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
  const identity = device.attributes.filter((attribute) => attribute.scope === 'identity')
  return Object.fromEntries(identity.map((attribute) => [attribute.name, attribute.value]))
}

const setStatus = (deviceId: string, authSetId: string, status: string) =>
  t.call('PUT', `${MGMT}/devices/${deviceId}/auth/${authSetId}/status`, { token: admin, body: { status } })

describe('inventory follows deviceauth', () => {
  test("a new device's identity (without a `status` key of its own) and every status change", async () => {
    const device = new TestDevice({ mac: '0a:00:00:00:00:01', sku: 'board', status: 'spoofed' })
    await authenticate(t, device)
    const { id, auth_sets } = await findDevice(t, admin, device)
    expect(await inventoryIdentity(id)).toEqual({ mac: '0a:00:00:00:00:01', sku: 'board', status: 'pending' })
    for (const status of ['accepted', 'rejected', 'pending', 'accepted']) {
      expect((await setStatus(id, auth_sets[0].id, status)).status).toBe(204)
      expect((await inventoryIdentity(id))?.status).toBe(status)
    }
    await t.call('DELETE', `${MGMT}/devices/${id}/auth/${auth_sets[0].id}`, { token: admin })
    expect((await inventoryIdentity(id))?.status).toBe('noauth')
  })

  test('a preauthorized device is listed with its status; accepted by its own auth request', async () => {
    const device = new TestDevice({ mac: '0a:00:00:00:00:02' })
    const res = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: device.pubkey },
    })
    const id = res.headers.get('location')!.replace('devices/', '')
    expect(await inventoryIdentity(id)).toEqual({ mac: '0a:00:00:00:00:02', status: 'preauthorized' })
    expect((await authenticate(t, device)).status).toBe(200)
    expect((await inventoryIdentity(id))?.status).toBe('accepted')
  })

  test('deleting the last, preauthorized auth set removes the device from inventory', async () => {
    const device = new TestDevice()
    const res = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: device.pubkey },
    })
    const id = res.headers.get('location')!.replace('devices/', '')
    const { auth_sets } = await findDevice(t, admin, device)
    expect((await inventoryIdentity(id))?.status).toBe('preauthorized')
    await t.call('DELETE', `${MGMT}/devices/${id}/auth/${auth_sets[0].id}`, { token: admin })
    expect(await inventoryIdentity(id)).toBeUndefined()
  })

  test('decommissioning removes the device from inventory with everything the device reported', async () => {
    const device = new TestDevice()
    await authenticate(t, device)
    const { id, auth_sets } = await findDevice(t, admin, device)
    await setStatus(id, auth_sets[0].id, 'accepted')
    const token = (await authenticate(t, device)).text
    const report = () =>
      t.call('PUT', '/api/devices/v1/inventory/device/attributes', {
        token,
        body: [{ name: 'device_type', value: 'test-device' }],
      })
    expect((await report()).status).toBe(200)
    expect((await t.services.inventory.getDevice('', id)).device.attributes.map((a) => a.name)).toContain(
      'device_type',
    )
    expect((await inventoryIdentity(id))?.status).toBe('accepted')
    expect((await t.call('DELETE', `${MGMT}/devices/${id}`, { token: admin })).status).toBe(204)
    expect(await inventoryIdentity(id)).toBeUndefined()
    expect((await report()).status).toBe(401)
    expect(await inventoryIdentity(id)).toBeUndefined()
  })

  test('a refused auth request adds nothing to inventory', async () => {
    const count = () => t.count('inventory_devices')
    const before = await count()
    const device = new TestDevice()
    const raw = device.authRequestBody()
    const res = await t.call('POST', AUTH_REQUESTS, {
      raw,
      headers: { 'content-type': 'application/json', 'x-men-signature': new TestDevice().sign(raw) },
    })
    expect(res.status).toBe(401)
    expect(await count()).toBe(before)
  })
})
