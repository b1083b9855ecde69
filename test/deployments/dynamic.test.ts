import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import {
  acceptedDevice,
  addArtifact,
  getDeployment,
  MGMT,
  MGMT_V2,
  poll,
  report,
  uniqueName,
} from './rollout.ts'

const FILTERS = '/api/management/v2/inventory/filters'
const DEVICE_ATTRIBUTES = '/api/devices/v1/inventory/device/attributes'

let t: TestApp
let admin: string

beforeEach(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterEach(() => t.close())

async function saveFilter(terms: Record<string, unknown>[]): Promise<string> {
  const res = await t.call('POST', FILTERS, { token: admin, body: { name: uniqueName('filter'), terms } })
  expect(res.status).toBe(201)
  return res.headers.get('location')!.split('/').pop()!
}

const setOs = async (token: string, os: string) =>
  expect(
    (await t.call('PATCH', DEVICE_ATTRIBUTES, { token, body: [{ name: 'os', value: os }] })).status,
  ).toBe(200)

async function deployDynamic(body: Record<string, unknown>) {
  const name = uniqueName('dynamic')
  await addArtifact(t, name, ['dev-a'])
  return t.call('POST', `${MGMT_V2}/deployments`, {
    token: admin,
    body: { name: 'dyn', artifact_name: name, ...body },
  })
}

const idOf = (res: { headers: Headers }) => res.headers.get('location')!.split('/').pop()!

const INVENTORY = '/api/management/v1/inventory'

async function manage(method: string, path: string, body: unknown) {
  const res = await t.call(method, `${INVENTORY}${path}`, { token: admin, body })
  expect(res.status).toBeLessThan(300)
  return res
}

describe('dynamic deployments', () => {
  test('the devices matching at creation get it; a device that comes to match (inventory written) joins it', async () => {
    const debian = await acceptedDevice(t, admin)
    const alpine = await acceptedDevice(t, admin)
    await setOs(debian.token, 'debian')
    await setOs(alpine.token, 'alpine')
    const terms = [{ scope: 'inventory', attribute: 'os', type: '$eq', value: 'debian' }]
    const filterId = await saveFilter(terms)
    const made = await deployDynamic({ filter_id: filterId })
    expect(made.status).toBe(201)
    const id = idOf(made)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment).toMatchObject({
      dynamic: true,
      initial_device_count: 1,
      max_devices: 0,
      status: 'pending',
    })
    expect(deployment.filter).toEqual({ id: filterId, name: expect.any(String), terms })
    expect((await poll(t, debian.token)).status).toBe(200)
    expect((await poll(t, alpine.token)).status).toBe(204)

    await setOs(alpine.token, 'debian')
    await t.services.deployments.runDue()
    expect((await poll(t, alpine.token)).status).toBe(200)
    expect(
      (await t.call('GET', `/api/management/v1/deployments/deployments/${id}/device_list`, { token: admin }))
        .json,
    ).toHaveLength(2)
  })

  test('a device accepted while it is active gets it', async () => {
    const terms = [{ scope: 'identity', attribute: 'kind', type: '$eq', value: 'sensor' }]
    const first = await acceptedDevice(t, admin, { kind: 'sensor' })
    const id = idOf(await deployDynamic({ filter_id: await saveFilter(terms) }))
    expect((await poll(t, first.token)).status).toBe(200)
    const late = await acceptedDevice(t, admin, { kind: 'sensor' })
    const other = await acceptedDevice(t, admin, { kind: 'camera' })
    await t.services.deployments.runDue()
    expect((await poll(t, late.token)).status).toBe(200)
    expect((await poll(t, other.token)).status).toBe(204)
    expect((await getDeployment(t, admin, id)).statistics.status.pending).toBe(2)
  })

  test('max_devices: it finishes once that many devices finished it', async () => {
    const terms = [{ scope: 'identity', attribute: 'kind', type: '$eq', value: 'gateway' }]
    const a = await acceptedDevice(t, admin, { kind: 'gateway' })
    const b = await acceptedDevice(t, admin, { kind: 'gateway' })
    const id = idOf(await deployDynamic({ filter_id: await saveFilter(terms), max_devices: 1 }))
    expect((await getDeployment(t, admin, id)).max_devices).toBe(1)
    const [first, second] = (await poll(t, a.token)).status === 200 ? [a, b] : [b, a]
    await report(t, first.token, id, 'success')
    expect((await getDeployment(t, admin, id)).status).toBe('finished')
    expect((await poll(t, second.token)).status).toBe(204)
  })

  test('400: an unknown filter, update_control_map', async () => {
    const unknown = await deployDynamic({ filter_id: crypto.randomUUID() })
    expect(unknown.status).toBe(400)
    expect(unknown.json.error).toContain('filter_id')
    const terms = [{ scope: 'identity', attribute: 'kind', type: '$eq', value: 'x' }]
    const map = await deployDynamic({
      filter_id: await saveFilter(terms),
      update_control_map: { states: {} },
    })
    expect(map.status).toBe(400)
    expect(map.json.error).toContain('update_control_map')
  })
})

describe('group and tag changes are match triggers', () => {
  const inGroup = (group: string) => [{ scope: 'system', attribute: 'group', type: '$eq', value: group }]
  // The devices' acceptance is a trigger too: handled first, so only the change under test is left.
  const settle = () => t.services.deployments.runDue()

  test('a device moved into the group afterwards (bulk or its own group) is offered it; one never in it is not', async () => {
    const group = uniqueName('canary').replaceAll('.', '-')
    const [early, bulk, own, never] = [
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
    ]
    await manage('PATCH', `/groups/${group}/devices`, [early.id])
    const id = idOf(await deployDynamic({ filter_id: await saveFilter(inGroup(group)) }))
    await settle()
    expect((await getDeployment(t, admin, id)).initial_device_count).toBe(1)
    expect((await poll(t, bulk.token)).status).toBe(204)

    await manage('PATCH', `/groups/${group}/devices`, [bulk.id, bulk.id])
    await manage('PUT', `/devices/${own.id}/group`, { group })
    await manage('PUT', `/devices/${never.id}/group`, { group: 'elsewhere' })
    await t.services.deployments.runDue()
    expect((await poll(t, bulk.token)).status).toBe(200)
    expect((await poll(t, own.token)).status).toBe(200)
    expect((await poll(t, never.token)).status).toBe(204)
    // A repeated assignment (and a second look) does not add the devices twice.
    await manage('PATCH', `/groups/${group}/devices`, [bulk.id, own.id])
    await t.services.deployments.runDue()
    const list = await t.call('GET', `${MGMT}/deployments/${id}/device_list`, { token: admin })
    expect([...list.json].sort()).toEqual([early.id, bulk.id, own.id].sort())
  })

  test('a device taken out of a group (bulk, its own, the group emptied) comes to match a filter on its absence', async () => {
    const group = uniqueName('quarantine').replaceAll('.', '-')
    const held = await acceptedDevice(t, admin, { kind: 'kiosk' })
    const own = await acceptedDevice(t, admin, { kind: 'kiosk' })
    const other = await acceptedDevice(t, admin, { kind: 'kiosk' })
    await manage('PATCH', `/groups/${group}/devices`, [held.id, own.id, other.id])
    const terms = [
      { scope: 'identity', attribute: 'kind', type: '$eq', value: 'kiosk' },
      { scope: 'system', attribute: 'group', type: '$exists', value: false },
    ]
    const id = idOf(await deployDynamic({ filter_id: await saveFilter(terms) }))
    await settle()
    expect((await getDeployment(t, admin, id)).initial_device_count).toBe(0)
    await manage('DELETE', `/groups/${group}/devices`, [held.id])
    await t.services.deployments.runDue()
    expect((await poll(t, held.token)).status).toBe(200)
    expect((await poll(t, other.token)).status).toBe(204)
    expect((await poll(t, own.token)).status).toBe(204)
    await manage('DELETE', `/devices/${own.id}/group/${group}`, undefined)
    await t.services.deployments.runDue()
    expect((await poll(t, own.token)).status).toBe(200)
    expect((await poll(t, other.token)).status).toBe(204)
    // Emptying the group (DELETE /groups/{name}) is a trigger too.
    await manage('DELETE', `/groups/${group}`, undefined)
    await t.services.deployments.runDue()
    expect((await poll(t, other.token)).status).toBe(200)
  })

  test('a device given the tag afterwards (PUT or PATCH) is offered it; one with another value is not', async () => {
    const rack = uniqueName('rack')
    const terms = [{ scope: 'tags', attribute: 'rack', type: '$eq', value: rack }]
    const [put, patched, wrong] = [
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
    ]
    const id = idOf(await deployDynamic({ filter_id: await saveFilter(terms) }))
    await settle()
    expect((await getDeployment(t, admin, id)).initial_device_count).toBe(0)
    await manage('PUT', `/devices/${put.id}/tags`, [{ name: 'rack', value: rack }])
    await manage('PATCH', `/devices/${patched.id}/tags`, [{ name: 'rack', value: rack }])
    await manage('PUT', `/devices/${wrong.id}/tags`, [{ name: 'rack', value: 'another' }])
    await t.services.deployments.runDue()
    expect((await poll(t, put.token)).status).toBe(200)
    expect((await poll(t, patched.token)).status).toBe(200)
    expect((await poll(t, wrong.token)).status).toBe(204)
  })

  test('max_devices holds when a bulk group assignment brings more devices than it allows', async () => {
    const group = uniqueName('wave').replaceAll('.', '-')
    const devices = [
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
      await acceptedDevice(t, admin),
    ]
    const id = idOf(await deployDynamic({ filter_id: await saveFilter(inGroup(group)), max_devices: 2 }))
    await settle()
    await manage(
      'PATCH',
      `/groups/${group}/devices`,
      devices.map((d) => d.id),
    )
    await t.services.deployments.runDue()
    const offered = []
    for (const device of devices) offered.push((await poll(t, device.token)).status)
    expect(offered).toEqual([200, 200, 204])
    const [first, second] = devices as [(typeof devices)[0], (typeof devices)[0]]
    await report(t, first.token, id, 'success')
    expect((await getDeployment(t, admin, id)).status).not.toBe('finished')
    await report(t, second.token, id, 'success')
    expect((await getDeployment(t, admin, id)).status).toBe('finished')
    expect((await poll(t, devices[2]!.token)).status).toBe(204)
  })
})
