import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { acceptedDevice, MGMT as DEPLOYMENTS } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { expectMenderError } from '../helpers/errors.ts'
import { configurationStatus, DEVICE, INTERNAL, MGMT } from './helpers.ts'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

describe('management', () => {
  test('an accepted device has an empty configuration; an unknown one is 404', async () => {
    const device = await acceptedDevice(t, admin)
    const res = await configurationStatus(t, admin, device.id, 200)
    expect(res.json).toEqual({ id: device.id, configured: {}, reported: {}, updated_ts: expect.any(String) })
    expectMenderError(
      await t.call('GET', `${MGMT}/${crypto.randomUUID()}`, { token: admin }),
      404,
      'device does not exist',
    )
  })

  test('PUT replaces what is configured', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    expect(
      (await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { a: '1', b: '2' } })).status,
    ).toBe(204)
    expect(
      (await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { timezone: 'UTC' } })).status,
    ).toBe(204)
    const res = await t.call('GET', `${MGMT}/${device.id}`, { token: admin })
    expect(res.json.configured).toEqual({ timezone: 'UTC' })
  })

  test('bad configurations are 400 and change nothing', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { keep: 'me' } })
    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']))
    const bad: unknown[] = [
      { a: 1 },
      { a: { nested: 'x' } },
      { '': 'blank key' },
      { ['k'.repeat(4097)]: 'v' },
      { a: 'v'.repeat(4097) },
      tooMany,
    ]
    for (const body of bad)
      expectMenderError(await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body }), 400)
    expectMenderError(
      await t.call('PUT', `${MGMT}/${device.id}`, {
        token: admin,
        raw: '{"a":',
        headers: { 'content-type': 'application/json' },
      }),
      400,
    )
    expect((await t.call('GET', `${MGMT}/${device.id}`, { token: admin })).json.configured).toEqual({
      keep: 'me',
    })
  })

  test('deploying makes a configuration deployment and records it', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { mode: 'eco' } })
    const res = await t.call('POST', `${MGMT}/${device.id}/deploy`, { token: admin, body: { retries: 0 } })
    expect(res.status).toBe(200)
    const id = res.json.deployment_id
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect((await t.call('GET', `${MGMT}/${device.id}`, { token: admin })).json.deployment_id).toBe(id)
    const deployment = (await t.call('GET', `${DEPLOYMENTS}/deployments/${id}`, { token: admin })).json
    expect(deployment).toMatchObject({
      id,
      name: `configuration-${id}`,
      artifact_name: `configuration-${id}`,
      type: 'configuration',
      status: 'pending',
      max_devices: 1,
    })
    const listed = await t.call('GET', `${DEPLOYMENTS}/deployments?type=configuration`, { token: admin })
    expect(listed.json.map((d: any) => d.id)).toContain(id)
    const software = await t.call('GET', `${DEPLOYMENTS}/deployments?type=software`, { token: admin })
    expect(software.json.map((d: any) => d.id)).not.toContain(id)
  })

  test('deploy refuses what it cannot do', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    const deploy = (body?: unknown) => t.call('POST', `${MGMT}/${device.id}/deploy`, { token: admin, body })
    expectMenderError(await deploy({ retries: 101 }), 400, 'retries')
    expectMenderError(await deploy({ retries: 1.5 }), 400, 'retries')
    expectMenderError(await deploy({ update_control_map: { states: {} } }), 400, 'update_control_map')
    expectMenderError(await deploy({ retries: -1 }), 400)
    expectMenderError(
      await t.call('POST', `${MGMT}/${crypto.randomUUID()}/deploy`, { token: admin, body: {} }),
      404,
    )
    expect((await t.call('GET', `${MGMT}/${device.id}`, { token: admin })).json.deployment_id).toBeUndefined()
  })

  test('a decommissioned device loses its configuration', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    expect(
      (await t.call('DELETE', `/api/management/v2/devauth/devices/${device.id}`, { token: admin })).status,
    ).toBe(204)
    await configurationStatus(t, admin, device.id, 404)
  })

  test('needs a user token', async () => {
    const device = await acceptedDevice(t, admin)
    expectMenderError(await t.call('GET', `${MGMT}/${device.id}`), 401)
    expectMenderError(await t.call('GET', `${MGMT}/${device.id}`, { token: device.token }), 401)
    expectMenderError(await t.call('PUT', `${MGMT}/${device.id}`, { body: {} }), 401)
    expectMenderError(await t.call('POST', `${MGMT}/${device.id}/deploy`, { body: {} }), 401)
  })
})

describe('device', () => {
  test('gets what is configured and reports what it runs', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    expect((await t.call('GET', DEVICE, { token: device.token })).json).toEqual({})
    await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { hostname: 'kiosk-1' } })
    const got = await t.call('GET', DEVICE, { token: device.token })
    expect(got.status).toBe(200)
    expect(got.json).toEqual({ hostname: 'kiosk-1' })
    expect((await t.call('PUT', DEVICE, { token: device.token, body: { hostname: 'kiosk-0' } })).status).toBe(
      204,
    )
    const res = await t.call('GET', `${MGMT}/${device.id}`, { token: admin })
    expect(res.json).toMatchObject({ configured: { hostname: 'kiosk-1' }, reported: { hostname: 'kiosk-0' } })
    expect(typeof res.json.reported_ts).toBe('string')
  })

  test('bad reports are 400; a device without configuration gets 404; a user token is refused', async () => {
    const device = await acceptedDevice(t, admin)
    await configurationStatus(t, admin, device.id, 200)
    expectMenderError(await t.call('PUT', DEVICE, { token: device.token, body: { a: 1 } }), 400)
    expectMenderError(await t.call('PUT', DEVICE, { token: device.token, body: { '': 'x' } }), 400)
    expect(
      (await t.call('DELETE', `${INTERNAL}/tenants//devices/${device.id}`, { token: admin })).status,
    ).toBe(204)
    expectMenderError(await t.call('GET', DEVICE, { token: device.token }), 404)
    expectMenderError(await t.call('GET', DEVICE, { token: admin }), 401)
    expectMenderError(await t.call('GET', DEVICE), 401)
  })
})

describe('internal', () => {
  test('health and alive answer 204', async () => {
    expect((await t.call('GET', `${INTERNAL}/health`)).status).toBe(204)
    expect((await t.call('GET', `${INTERNAL}/alive`)).status).toBe(204)
  })

  test('provisions, deploys and decommissions a device of the caller tenant', async () => {
    const id = crypto.randomUUID()
    expect(
      (await t.call('POST', `${INTERNAL}/tenants`, { token: admin, body: { tenant_id: '' } })).status,
    ).toBe(201)
    const provisioned = await t.call('POST', `${INTERNAL}/tenants//devices`, {
      token: admin,
      body: { device_id: id },
    })
    expect(provisioned.status).toBe(201)
    expect((await t.call('GET', `${MGMT}/${id}`, { token: admin })).json.configured).toEqual({})
    const deployed = await t.call('POST', `${INTERNAL}/tenants//configurations/device/${id}/deploy`, {
      token: admin,
      body: {},
    })
    expect(deployed.status).toBe(200)
    expect((await t.call('GET', `${MGMT}/${id}`, { token: admin })).json.deployment_id).toBe(
      deployed.json.deployment_id,
    )
    expect((await t.call('DELETE', `${INTERNAL}/tenants//devices/${id}`, { token: admin })).status).toBe(204)
    expectMenderError(await t.call('GET', `${MGMT}/${id}`, { token: admin }), 404)
  })

  test('refuses another tenant, a missing token and a bad body', async () => {
    expectMenderError(
      await t.call('POST', `${INTERNAL}/tenants`, { token: admin, body: { tenant_id: 'other' } }),
      403,
    )
    expectMenderError(
      await t.call('POST', `${INTERNAL}/tenants/other/devices`, { token: admin, body: { device_id: 'x' } }),
      403,
    )
    expectMenderError(await t.call('DELETE', `${INTERNAL}/tenants/other`, { token: admin }), 403)
    expectMenderError(await t.call('POST', `${INTERNAL}/tenants//devices`, { body: { device_id: 'x' } }), 401)
    expectMenderError(await t.call('POST', `${INTERNAL}/tenants//devices`, { token: admin, body: {} }), 400)
    expectMenderError(
      await t.call('POST', `${INTERNAL}/tenants//configurations/device/${crypto.randomUUID()}/deploy`, {
        token: admin,
        body: {},
      }),
      404,
    )
  })
})
