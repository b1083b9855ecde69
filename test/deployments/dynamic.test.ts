import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { acceptedDevice, addArtifact, getDeployment, MGMT_V2, poll, report, uniqueName } from './rollout.ts'

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
