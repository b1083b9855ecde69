import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import {
  acceptedDevices,
  addArtifact,
  deploy,
  getDeployment,
  MGMT,
  poll,
  report,
  uniqueName,
} from './rollout.ts'

let t: TestApp
let admin: string

beforeEach(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterEach(() => t.close())

const iso = (secondsFromNow: number) =>
  new Date(t.clock.now().getTime() + secondsFromNow * 1000).toISOString()

const fleet = (n: number) => acceptedDevices(t, admin, n)

async function devicesList(id: string) {
  return (await t.call('GET', `${MGMT}/deployments/${id}/devices/list?per_page=500`, { token: admin }))
    .json as Record<string, any>[]
}

describe('phases: validation', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'mixing % and counts',
      { phases: [{ batch_size: 50 }, { batch_size_devices: 1, start_ts: 'LATER' }] },
      'mixed',
    ],
    [
      'a size that rounds to no device',
      { phases: [{ batch_size: 10 }, { start_ts: 'LATER' }] },
      'is no device',
    ],
    ['a later phase without a start', { phases: [{ batch_size: 50 }, {}] }, 'only the first phase may omit'],
    [
      'start times that do not increase',
      { phases: [{ batch_size: 50, start_ts: 'LATER' }, { start_ts: 'LATER' }] },
      'must be later',
    ],
    [
      'a middle phase without a size',
      { phases: [{}, { start_ts: 'LATER' }] },
      'only the last phase may omit its size',
    ],
    [
      'sizes that do not add up',
      { phases: [{ batch_size: 50 }, { batch_size: 20, start_ts: 'LATER' }] },
      'not 100%',
    ],
    [
      'phases and uniform_phases',
      { phases: [{}], uniform_phases: { time_interval: '1h', batch_size: 50 } },
      'not both',
    ],
    ['a bad interval', { uniform_phases: { time_interval: 'soon', batch_size: 50 } }, 'not a duration'],
    ['a bad time', { phases: [{ start_ts: 'tomorrow' }] }, 'not an RFC 3339 time'],
    ['update_control_map', { update_control_map: { states: {} } }, 'update_control_map'],
    ['a failure gate without a threshold', { policy: { failure_gate: { action: 'pause' } } }, 'failure_gate'],
  ]
  for (const [what, extra, message] of cases) {
    test(`400 for ${what}, with the reason; nothing is stored`, async () => {
      const devices = await fleet(4)
      const name = uniqueName('invalid')
      await addArtifact(t, name, ['dev-a'])
      const body = JSON.parse(JSON.stringify(extra).replaceAll('LATER', iso(3600)))
      const res = await t.call('POST', `${MGMT}/deployments`, {
        token: admin,
        body: { name: 'r', artifact_name: name, devices: devices.map((d) => d.id), ...body },
      })
      expect(res.status).toBe(400)
      expect(res.json.error).toContain(message)
      expect((await t.call('GET', `${MGMT}/deployments`, { token: admin })).json).toEqual([])
    })
  }
})

describe('phases', () => {
  test('each device gets one stable phase; a phase’s devices get the deployment only once it opens', async () => {
    const devices = await fleet(10)
    const name = uniqueName('phased')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, {
      artifact_name: name,
      devices: devices.map((d) => d.id),
      phases: [{ batch_size: 30 }, { start_ts: iso(3600) }],
    })
    let deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('pending')
    expect(deployment.phases).toHaveLength(2)
    expect(deployment.phases.map((p: any) => [p.batch_size, p.device_total, p.device_count])).toEqual([
      [30, 3, 0],
      [undefined, 7, 0],
    ])
    const answers = await Promise.all(devices.map((d) => poll(t, d.token)))
    expect(answers.filter((r) => r.status === 200)).toHaveLength(3)
    expect(answers.filter((r) => r.status === 204)).toHaveLength(7)
    const listed = await devicesList(id)
    expect(listed).toHaveLength(3)
    expect(new Set(listed.map((d) => d.phase_id))).toEqual(new Set([deployment.phases[0].id]))

    // Not yet: the second phase's start has not come.
    await t.services.deployments.runDue()
    const waiting = devices.filter((_, i) => answers[i]!.status === 204)
    expect((await poll(t, waiting[0]!.token)).status).toBe(204)

    t.clock.advance(3601)
    await t.services.deployments.runDue()
    for (const device of waiting) expect((await poll(t, device.token)).status).toBe(200)
    deployment = await getDeployment(t, admin, id)
    expect(deployment.phases.map((p: any) => p.device_count)).toEqual([3, 7])
    expect(deployment.rollout_log.map((e: any) => [e.kind, e.phase])).toEqual([
      ['phase-opened', 0],
      ['phase-opened', 1],
    ])
    // The same devices stay in the same phases.
    const phaseOf = new Map((await devicesList(id)).map((d) => [d.id, d.phase_id]))
    for (const device of waiting) expect(phaseOf.get(device.id)).toBe(deployment.phases[1].id)
  })

  test('a deployment whose first phase is later is scheduled until then', async () => {
    const [device] = await fleet(1)
    const name = uniqueName('scheduled')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, {
      artifact_name: name,
      devices: [device!.id],
      phases: [{ batch_size: 100, start_ts: iso(600) }],
    })
    expect((await getDeployment(t, admin, id)).status).toBe('scheduled')
    const scheduled = await t.call('GET', `${MGMT}/deployments?status=scheduled`, { token: admin })
    expect(scheduled.json.map((d: any) => d.id)).toEqual([id])
    expect((await poll(t, device!.token)).status).toBe(204)
    t.clock.advance(601)
    await t.services.deployments.runDue()
    expect((await getDeployment(t, admin, id)).status).toBe('pending')
    expect((await poll(t, device!.token)).status).toBe(200)
    await report(t, device!.token, id, 'downloading')
    expect((await getDeployment(t, admin, id)).status).toBe('inprogress')
  })

  test('uniform_phases: a batch every interval, the last one takes the rest', async () => {
    const devices = await fleet(5)
    const name = uniqueName('uniform')
    await addArtifact(t, name, ['dev-a'])
    const start = iso(60)
    const id = await deploy(t, admin, {
      artifact_name: name,
      devices: devices.map((d) => d.id),
      uniform_phases: { start_ts: start, time_interval: '1h30m', batch_size_devices: 2 },
    })
    const { phases, status } = await getDeployment(t, admin, id)
    expect(status).toBe('scheduled')
    expect(phases.map((p: any) => p.device_total)).toEqual([2, 2, 1])
    const starts = phases.map((p: any) => Date.parse(p.start_ts))
    expect(starts[0]).toBe(Date.parse(start))
    expect(starts[2] - starts[1]).toBe(90 * 60 * 1000)
  })
})

describe('retries', () => {
  test('a failed device is offered the deployment again, up to `retries` more times; it is counted by its last attempt', async () => {
    const [device] = await fleet(1)
    const name = uniqueName('retried')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [device!.id], retries: 1 })
    expect((await getDeployment(t, admin, id)).retries).toBe(1)
    expect((await poll(t, device!.token)).status).toBe(200)
    await report(t, device!.token, id, 'installing')
    expect((await report(t, device!.token, id, 'failure')).status).toBe(204)
    let stats = (await t.call('GET', `${MGMT}/deployments/${id}/statistics`, { token: admin })).json
    expect([stats.failure, stats.pending, stats.installing]).toEqual([0, 1, 0])
    expect((await devicesList(id))[0]).toMatchObject({ status: 'pending', attempts: 2 })

    expect((await poll(t, device!.token)).status).toBe(200)
    await report(t, device!.token, id, 'failure')
    stats = (await t.call('GET', `${MGMT}/deployments/${id}/statistics`, { token: admin })).json
    expect([stats.failure, stats.pending]).toEqual([1, 0])
    expect((await devicesList(id))[0]).toMatchObject({ status: 'failure', attempts: 2 })
    expect((await getDeployment(t, admin, id)).status).toBe('finished')
    expect((await poll(t, device!.token)).status).toBe(204)
  })
})
