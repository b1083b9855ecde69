import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import {
  acceptedDevice,
  addArtifact,
  deploy,
  getDeployment,
  MGMT,
  MGMT_V2,
  poll,
  report,
  uniqueName,
} from './rollout.ts'

setDefaultTimeout(30_000)

let t: TestApp
let admin: string
beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const api = (method: string, path: string, body?: unknown) => t.call(method, path, { token: admin, body })

describe('creating a deployment', () => {
  test('201 with its Location; the device list, counts and filter as made', async () => {
    const a = await acceptedDevice(t, admin)
    const b = await acceptedDevice(t, admin)
    const name = uniqueName('create')
    const artifact = await addArtifact(t, name, ['dev-a'])
    const res = await api('POST', `${MGMT}/deployments`, {
      name: 'first rollout',
      artifact_name: name,
      devices: [b.id, a.id, b.id],
    })
    expect(res.status).toBe(201)
    expect(res.text).toBe('')
    const location = res.headers.get('location')!
    expect(location).toMatch(/^\/api\/management\/v1\/deployments\/deployments\/[0-9a-f-]{36}$/)
    const id = location.split('/').pop()!
    const deployment = await getDeployment(t, admin, id)
    expect(deployment).toMatchObject({
      id,
      name: 'first rollout',
      artifact_name: name,
      created: t.clock.now().toISOString(),
      status: 'pending',
      device_count: 0,
      max_devices: 2,
      artifacts: [artifact.id],
      type: 'software',
      filter: {
        id: '',
        name: '',
        terms: [{ scope: 'identity', attribute: 'id', type: '$in', value: [b.id, a.id] }],
      },
      statistics: { total_size: 0 },
    })
    expect(deployment.statistics.status.pending).toBe(2)
    expect(deployment.finished).toBeUndefined()
    expect(deployment.all_devices).toBeUndefined()
    expect(deployment.force_installation).toBeUndefined()
    expect((await api('GET', `${MGMT}/deployments/${id}/device_list`)).json).toEqual([b.id, a.id])
  })

  test('an invalid definition is a 400', async () => {
    const name = uniqueName('invalid')
    await addArtifact(t, name, ['dev-a'])
    const d = await acceptedDevice(t, admin)
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', artifact_name: name }, 'provide list of devices or set all_devices flag'],
      [{ name: 'x', artifact_name: name, devices: [] }, 'provide list of devices or set all_devices flag'],
      [{ name: 'x', artifact_name: name, devices: [d.id], all_devices: true }, 'not both'],
      [{ name: '', artifact_name: name, devices: [d.id] }, 'name: cannot be blank'],
      [
        { name: 'x'.repeat(257), artifact_name: name, devices: [d.id] },
        'name: the length must be no more than 256',
      ],
      [{ name: 'x', artifact_name: '', devices: [d.id] }, 'artifact_name: cannot be blank'],
      [{ name: 'x', artifact_name: name, devices: [d.id, ''] }, 'devices: (1: cannot be blank.)'],
    ]
    for (const [body, message] of cases) {
      const res = await api('POST', `${MGMT}/deployments`, body)
      expect(res.status).toBe(400)
      expect(res.json.error).toStartWith('Validating request body: ')
      expect(res.json.error).toContain(message)
    }
    expect((await api('POST', `${MGMT}/deployments`, { artifact_name: name, devices: [d.id] })).status).toBe(
      400,
    )
    expect(
      (
        await t.call('POST', `${MGMT}/deployments`, {
          body: { name: 'x', artifact_name: name, devices: [d.id] },
        })
      ).status,
    ).toBe(401)
  })

  test('422 when no artifact has that name', async () => {
    const d = await acceptedDevice(t, admin)
    const res = await api('POST', `${MGMT}/deployments`, {
      name: 'x',
      artifact_name: 'no-such',
      devices: [d.id],
    })
    expect(res.status).toBe(422)
    expect(res.json.error).toBe('No artifact for the deployment')
  })

  test('409 for an identical active deployment; once that one is finished, the same again is fine', async () => {
    const d = await acceptedDevice(t, admin)
    const name = uniqueName('twin')
    await addArtifact(t, name, ['dev-a'])
    const body = { name: 'twin', artifact_name: name, devices: [d.id] }
    const id = await deploy(t, admin, body)
    const twin = await api('POST', `${MGMT}/deployments`, body)
    expect(twin.status).toBe(409)
    expect(twin.json.error).toContain('already an active deployment with the same parameters')
    expect((await api('POST', `${MGMT}/deployments`, { ...body, force_installation: true })).status).toBe(201)
    expect((await api('PUT', `${MGMT}/deployments/${id}/status`, { status: 'aborted' })).status).toBe(204)
    expect((await api('POST', `${MGMT}/deployments`, body)).status).toBe(201)
  })

  test('a group deployment lists the group’s accepted devices now; devices or all_devices with it are a 400', async () => {
    const group = uniqueName('group')
    const name = uniqueName('for-group')
    await addArtifact(t, name, ['dev-a'])
    const inGroup = await acceptedDevice(t, admin)
    const alsoInGroup = await acceptedDevice(t, admin)
    await acceptedDevice(t, admin)
    await t.services.inventory.setGroup('', inGroup.id, group)
    await t.services.inventory.setGroup('', alsoInGroup.id, group)
    const res = await api('POST', `${MGMT}/deployments/group/${group}`, {
      name: 'to the group',
      artifact_name: name,
    })
    expect(res.status).toBe(201)
    const id = res.headers.get('location')!.split('/').pop()!
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.groups).toEqual([group])
    expect(deployment.max_devices).toBe(2)
    expect(deployment.filter.terms).toEqual([
      { scope: 'system', attribute: 'group', type: '$eq', value: group },
    ])
    expect(((await api('GET', `${MGMT}/deployments/${id}/device_list`)).json as string[]).sort()).toEqual(
      [inGroup.id, alsoInGroup.id].sort(),
    )
    const later = await acceptedDevice(t, admin)
    await t.services.inventory.setGroup('', later.id, group)
    expect((await poll(t, later.token)).status).toBe(204)
    expect((await poll(t, inGroup.token)).json.id).toBe(id)

    for (const extra of [{ devices: [inGroup.id] }, { all_devices: true }]) {
      const refused = await api('POST', `${MGMT}/deployments/group/${group}`, {
        name: 'x',
        artifact_name: name,
        ...extra,
      })
      expect(refused.status).toBe(400)
    }
    const empty = await api('POST', `${MGMT}/deployments/group/${uniqueName('empty')}`, {
      name: 'x',
      artifact_name: name,
    })
    expect(empty.status).toBe(400)
    expect(empty.json.error).toBe('No devices for the deployment')
  })

  test('a single-device deployment records the device’s group', async () => {
    const group = uniqueName('single')
    const name = uniqueName('single')
    await addArtifact(t, name, ['dev-a'])
    const d = await acceptedDevice(t, admin)
    await t.services.inventory.setGroup('', d.id, group)
    const id = await deploy(t, admin, { artifact_name: name, devices: [d.id] })
    expect((await getDeployment(t, admin, id)).groups).toEqual([group])
  })
})

describe('reading deployments', () => {
  test('get: 404 for an unknown id, 400 for one that is not a UUID; the same for statistics and device_list', async () => {
    for (const path of ['', '/statistics', '/device_list', '/devices', '/devices/list']) {
      const missing = await api('GET', `${MGMT}/deployments/${crypto.randomUUID()}${path}`)
      expect(missing.status).toBe(404)
      const bad = await api('GET', `${MGMT}/deployments/not-a-uuid${path}`)
      expect(bad.status).toBe(400)
      expect(bad.json.error).toBe('ID is not a valid UUID')
    }
  })

  test('statistics/list: several deployments at once; {} for no ids; 400 for bad ones; 404 when none exists', async () => {
    const name = uniqueName('stats')
    await addArtifact(t, name, ['dev-a'])
    const d = await acceptedDevice(t, admin)
    const one = await deploy(t, admin, { name: 'one', artifact_name: name, devices: [d.id] })
    const two = await deploy(t, admin, { name: 'two', artifact_name: name, devices: [d.id] })
    const res = await api('POST', `${MGMT}/deployments/statistics/list`, { deployment_ids: [one, two] })
    expect(res.status).toBe(200)
    expect((res.json as { id: string }[]).map((r) => r.id).sort()).toEqual([one, two].sort())
    expect(res.json[0].stats.pending).toBe(1)
    expect(Object.keys(res.json[0].stats)).toHaveLength(13)
    expect((await api('POST', `${MGMT}/deployments/statistics/list`, { deployment_ids: [] })).json).toEqual(
      {},
    )
    expect(
      (await api('POST', `${MGMT}/deployments/statistics/list`, { deployment_ids: ['nope'] })).status,
    ).toBe(400)
    const many = Array.from({ length: 101 }, () => crypto.randomUUID())
    expect((await api('POST', `${MGMT}/deployments/statistics/list`, { deployment_ids: many })).status).toBe(
      400,
    )
    const none = await api('POST', `${MGMT}/deployments/statistics/list`, {
      deployment_ids: [crypto.randomUUID()],
    })
    expect(none.status).toBe(404)
  })
})

describe('listing deployments', () => {
  let fresh: TestApp
  let token: string
  const ids: string[] = []
  const list = (query: string, v = MGMT) => fresh.call('GET', `${v}/deployments${query}`, { token })

  beforeAll(async () => {
    fresh = await createTestApp()
    token = (await loginAs(fresh)).token
    const d = await acceptedDevice(fresh, token, { serial: 'SN-42' })
    await addArtifact(fresh, 'alpha-app', ['dev-a'])
    await addArtifact(fresh, 'beta-app', ['dev-a'])
    // Five deployments a minute apart: names n0..n4, artifacts alternating.
    for (let i = 0; i < 5; i++) {
      ids.push(
        await deploy(fresh, token, {
          name: `n${i}`,
          artifact_name: i % 2 ? 'beta-app' : 'alpha-app',
          devices: [d.id],
        }),
      )
      fresh.clock.advance(60)
    }
    // The device finishes the oldest; the second is in progress.
    expect((await poll(fresh, d.token)).json.id).toBe(ids[0])
    expect((await report(fresh, d.token, ids[0]!, 'success')).status).toBe(204)
    expect((await poll(fresh, d.token, { artifact_name: 'alpha-app', device_type: 'dev-a' })).json.id).toBe(
      ids[1],
    )
    expect((await report(fresh, d.token, ids[1]!, 'downloading')).status).toBe(204)
  })
  afterAll(() => fresh.close())

  const names = (res: { json: { name: string }[] }) => res.json.map((d) => d.name)

  test('newest first by default, oldest first with sort=asc; X-Total-Count and Link', async () => {
    const res = await list('')
    expect(res.status).toBe(200)
    expect(names(res)).toEqual(['n4', 'n3', 'n2', 'n1', 'n0'])
    expect(res.headers.get('x-total-count')).toBe('5')
    expect(names(await list('?sort=asc'))).toEqual(['n0', 'n1', 'n2', 'n3', 'n4'])
    expect(names(await list('?sort=DESC'))).toEqual(['n4', 'n3', 'n2', 'n1', 'n0'])
    const page = await list('?page=2&per_page=2')
    expect(names(page)).toEqual(['n2', 'n1'])
    expect(page.headers.get('x-total-count')).toBe('5')
    expect(page.headers.get('link')).toBe(
      [
        '</api/management/v1/deployments/deployments?page=1&per_page=2>; rel="first"',
        '</api/management/v1/deployments/deployments?page=1&per_page=2>; rel="prev"',
        '</api/management/v1/deployments/deployments?page=3&per_page=2>; rel="next"',
        '</api/management/v1/deployments/deployments?page=3&per_page=2>; rel="last"',
      ].join(', '),
    )
  })

  test('status, search, created_after/before and type filters', async () => {
    expect(names(await list('?status=finished'))).toEqual(['n0'])
    expect(names(await list('?status=aborted'))).toEqual(['n0'])
    expect(names(await list('?status=inprogress'))).toEqual(['n1'])
    expect(names(await list('?status=pending'))).toEqual(['n4', 'n3', 'n2'])
    expect(names(await list('?search=BETA'))).toEqual(['n3', 'n1'])
    expect(names(await list('?search=n2'))).toEqual(['n2'])
    expect(names(await list('?search=%25'))).toEqual([])
    // Unix seconds, compared with the millisecond creation times (as Mender does).
    const created = async (i: number) =>
      Math.floor(Date.parse((await fresh.services.deployments.getDeployment('', ids[i]!)).created) / 1000)
    expect(names(await list(`?created_after=${await created(3)}`))).toEqual(['n4', 'n3'])
    expect(names(await list(`?created_before=${(await created(1)) + 1}`))).toEqual(['n1', 'n0'])
    expect(
      names(await list(`?created_after=${await created(1)}&created_before=${(await created(2)) + 1}`)),
    ).toEqual(['n2', 'n1'])
    expect(names(await list('?type=software'))).toHaveLength(5)
    expect(names(await list('?type=configuration'))).toEqual([])
  })

  test('bad parameters are a 400', async () => {
    for (const query of ['?status=bogus', '?sort=up', '?type=firmware', '?per_page=501', '?page=0']) {
      expect((await list(query)).status).toBe(400)
    }
  })

  test('v2: repeatable id and name filters, and the device lookup by identity attribute', async () => {
    const byId = await list(`?id=${ids[0]}&id=${ids[2]}`, MGMT_V2)
    expect(names(byId)).toEqual(['n2', 'n0'])
    expect(byId.headers.get('x-total-count')).toBe('2')
    expect(names(await list('?name=n1&name=n3', MGMT_V2))).toEqual(['n3', 'n1'])
    expect(names(await list(`?name=n1&id=${ids[1]}`, MGMT_V2))).toEqual(['n1'])
    expect(names(await list(`?name=n1&id=${ids[2]}`, MGMT_V2))).toEqual([])
    // No deployment is named SN-42: it is the device's serial, so its deployments are listed.
    const byDevice = await list('?name=SN-42&id_attribute=serial&id_scope=identity', MGMT_V2)
    expect(byDevice.status).toBe(200)
    expect(names(byDevice)).toEqual(['n4', 'n3', 'n2', 'n1', 'n0'])
    expect(names(await list('?name=SN-43&id_attribute=serial', MGMT_V2))).toEqual([])
    expect((await list('?id_scope=identity', MGMT_V2)).status).toBe(400)
    expect((await list('?name=x&id_attribute=serial&id_scope=nowhere', MGMT_V2)).status).toBe(400)
  })
})

describe('devices of a deployment', () => {
  test('/devices lists those that picked it up; /devices/list pages and filters them by status', async () => {
    const name = uniqueName('devices')
    const artifact = await addArtifact(t, name, ['dev-a'])
    const devices = []
    for (let i = 0; i < 4; i++) devices.push(await acceptedDevice(t, admin))
    const id = await deploy(t, admin, { artifact_name: name, devices: devices.map((d) => d.id) })
    const [a, b, c] = devices as [(typeof devices)[0], (typeof devices)[0], (typeof devices)[0]]
    for (const d of [a, b, c]) expect((await poll(t, d.token)).status).toBe(200)
    expect((await report(t, a.token, id, 'success')).status).toBe(204)
    expect((await report(t, b.token, id, 'pause_before_committing')).status).toBe(204)

    const all = (await api('GET', `${MGMT}/deployments/${id}/devices`)).json as Record<string, unknown>[]
    expect(all).toHaveLength(3)
    expect(all.map((d) => d.status)).toEqual(['pause_before_committing', 'pending', 'success'])
    expect(all[0]).toEqual({
      id: b.id,
      status: 'pause_before_committing',
      created: expect.any(String),
      started: expect.any(String),
      log: false,
      attempts: 1,
      image: expect.objectContaining({
        id: artifact.id,
        name,
        device_types_compatible: ['dev-a'],
        size: 4096,
      }),
    })

    const page = async (query: string) => api('GET', `${MGMT}/deployments/${id}/devices/list${query}`)
    const first = await page('?per_page=2')
    expect((first.json as { status: string }[]).map((d) => d.status)).toEqual([
      'pause_before_committing',
      'pending',
    ])
    expect(first.headers.get('x-total-count')).toBe('3')
    expect(first.headers.get('link')).toContain('rel="next"')
    const ids = async (query: string) => ((await page(query)).json as { id: string }[]).map((d) => d.id)
    expect(await ids('?status=success')).toEqual([a.id])
    expect(await ids('?status=pause')).toEqual([b.id])
    expect((await ids('?status=active')).sort()).toEqual([b.id, c.id].sort())
    expect(await ids('?status=finished')).toEqual([a.id])
    expect(await ids('?status=failure')).toEqual([])
    expect((await page('?status=bogus')).status).toBe(400)
  })
})

describe('aborting a deployment', () => {
  test('every unfinished device is aborted, the counts are recounted, and the deployment is finished', async () => {
    const name = uniqueName('abort')
    await addArtifact(t, name, ['dev-a'])
    const devices = []
    for (let i = 0; i < 3; i++) devices.push(await acceptedDevice(t, admin))
    const id = await deploy(t, admin, { artifact_name: name, devices: devices.map((d) => d.id) })
    const [done, busy, idle] = devices as [(typeof devices)[0], (typeof devices)[0], (typeof devices)[0]]
    for (const d of [done, busy]) expect((await poll(t, d.token)).status).toBe(200)
    expect((await report(t, done.token, id, 'success')).status).toBe(204)
    expect((await report(t, busy.token, id, 'installing')).status).toBe(204)
    t.clock.advance(10)

    expect((await api('PUT', `${MGMT}/deployments/${id}/status`, { status: 'pending' })).status).toBe(400)
    expect((await api('PUT', `${MGMT}/deployments/${id}/status`, { status: 'aborted' })).status).toBe(204)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('finished')
    expect(deployment.finished).toBe(t.clock.now().toISOString())
    // The device that never asked drops out of the counts.
    expect(deployment.statistics.status).toMatchObject({ success: 1, aborted: 1, installing: 0, pending: 0 })
    expect((await poll(t, idle.token)).status).toBe(204)

    const again = await api('PUT', `${MGMT}/deployments/${id}/status`, { status: 'aborted' })
    expect(again.status).toBe(422)
    expect(again.json.error).toBe('Deployment already finished')
    expect(
      (await api('PUT', `${MGMT}/deployments/${crypto.randomUUID()}/status`, { status: 'aborted' })).status,
    ).toBe(404)
    expect((await api('PUT', `${MGMT}/deployments/nope/status`, { status: 'aborted' })).status).toBe(400)
  })
})

describe('a device’s deployments', () => {
  test('history: newest first with each deployment, at most 20 a page, status filter, paging headers', async () => {
    const d = await acceptedDevice(t, admin)
    const first = uniqueName('history')
    const second = uniqueName('history')
    await addArtifact(t, first, ['dev-a'])
    await addArtifact(t, second, ['dev-a'])
    const older = await deploy(t, admin, { artifact_name: first, devices: [d.id] })
    const newer = await deploy(t, admin, { artifact_name: second, devices: [d.id] })
    expect((await poll(t, d.token)).json.id).toBe(older)
    expect((await report(t, d.token, older, 'failure')).status).toBe(204)
    expect((await poll(t, d.token)).json.id).toBe(newer)

    const res = await api('GET', `${MGMT}/deployments/devices/${d.id}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-total-count')).toBe('2')
    expect(res.json).toHaveLength(2)
    expect(res.json[0]).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      deployment: { id: newer, artifact_name: second, status: 'pending' },
      device: { id: d.id, status: 'pending', log: false },
    })
    expect(res.json[1]).toMatchObject({ deployment: { id: older }, device: { status: 'failure' } })
    const finished = await api('GET', `${MGMT}/deployments/devices/${d.id}?status=finished`)
    expect((finished.json as { deployment: { id: string } }[]).map((i) => i.deployment.id)).toEqual([older])
    const paged = await api('GET', `${MGMT}/deployments/devices/${d.id}?per_page=1&page=2`)
    expect(paged.json[0].deployment.id).toBe(older)
    expect(paged.headers.get('link')).toContain('rel="prev"')
    expect((await api('GET', `${MGMT}/deployments/devices/${d.id}?per_page=21`)).status).toBe(400)
    expect((await api('GET', `${MGMT}/deployments/devices/${d.id}?status=nope`)).status).toBe(400)
    expect((await api('GET', `${MGMT}/deployments/devices/${crypto.randomUUID()}`)).json).toEqual([])

    // Deleting the history marks the finished entries deleted; they stay listed.
    expect((await api('DELETE', `${MGMT}/deployments/devices/${d.id}/history`)).status).toBe(204)
    const after = await api('GET', `${MGMT}/deployments/devices/${d.id}`)
    expect(after.json[1].device.deleted).toBe(t.clock.now().toISOString())
    expect(after.json[0].device.deleted).toBeUndefined()
  })

  test('aborting a device’s deployments: the running one and those it has not picked up yet', async () => {
    const d = await acceptedDevice(t, admin)
    const other = await acceptedDevice(t, admin)
    const first = uniqueName('device-abort')
    const second = uniqueName('device-abort')
    await addArtifact(t, first, ['dev-a'])
    await addArtifact(t, second, ['dev-a'])
    const running = await deploy(t, admin, { artifact_name: first, devices: [d.id, other.id] })
    const waiting = await deploy(t, admin, { artifact_name: second, devices: [d.id, other.id] })
    expect((await poll(t, d.token)).json.id).toBe(running)
    expect((await report(t, d.token, running, 'downloading')).status).toBe(204)

    expect((await api('DELETE', `${MGMT}/deployments/devices/${d.id}`)).status).toBe(204)
    expect((await report(t, d.token, running, 'installing')).status).toBe(409)
    expect((await poll(t, d.token)).status).toBe(204)
    for (const id of [running, waiting]) {
      const deployment = await getDeployment(t, admin, id)
      expect(deployment.statistics.status).toMatchObject({ aborted: 1, pending: 1, downloading: 0 })
      expect(deployment.device_count).toBe(1)
      expect(deployment.status).not.toBe('finished')
    }
    // The other device is unaffected.
    expect((await poll(t, other.token)).json.id).toBe(running)
    // Nothing to abort is fine too.
    expect((await api('DELETE', `${MGMT}/deployments/devices/${crypto.randomUUID()}`)).status).toBe(204)
  })
})
