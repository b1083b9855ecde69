import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { OutboxEvent } from '../../src/events/model.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import {
  type acceptedDevice,
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

type Device = Awaited<ReturnType<typeof acceptedDevice>>

const fleet = (n: number) => acceptedDevices(t, admin, n)

const setStatus = (id: string, body: Record<string, unknown>) =>
  t.call('PUT', `${MGMT}/deployments/${id}/status`, { token: admin, body })

/** Deploys to every device in one phase with the policy; answers the id. */
async function deployWith(devices: Device[], policy: Record<string, unknown>, extra = {}) {
  const name = uniqueName('gated')
  await addArtifact(t, name, ['dev-a'])
  return deploy(t, admin, { artifact_name: name, devices: devices.map((d) => d.id), policy, ...extra })
}

/** The device picks the deployment up and ends with `result`. */
async function run(device: Device, id: string, result: 'success' | 'failure') {
  expect((await poll(t, device.token)).status).toBe(200)
  await report(t, device.token, id, 'installing')
  await report(t, device.token, id, result)
}

describe('failure gate', () => {
  test('pauses at X% of the finished devices once N finished; devices that have not started wait, started ones finish', async () => {
    const devices = await fleet(5)
    const [a, b, c, d, e] = devices as [Device, Device, Device, Device, Device]
    const id = await deployWith(devices, { failure_gate: { percent: 50, min_finished: 3 } })
    expect((await poll(t, e.token)).status).toBe(200)
    await report(t, e.token, id, 'downloading')
    await run(a, id, 'failure')
    await run(b, id, 'failure')
    // Two of two failed, but the minimum sample is three.
    expect((await getDeployment(t, admin, id)).paused).toBeUndefined()
    await run(c, id, 'success')
    const paused = await getDeployment(t, admin, id)
    expect(paused).toMatchObject({ paused: true, resume_needs_override: true, paused_at: expect.any(String) })
    expect(paused.pause_reason).toContain('2 of 3 finished devices failed')
    expect(paused.rollout_log.at(-1)).toMatchObject({ kind: 'paused', phase: 0 })
    // Not started: waits. Mid-update: goes on to its end.
    expect((await poll(t, d.token)).status).toBe(204)
    expect((await report(t, e.token, id, 'success')).status).toBe(204)

    const refused = await setStatus(id, { status: 'resumed' })
    expect(refused.status).toBe(409)
    expect(refused.json.error).toContain('override')
    expect((await setStatus(id, { status: 'resumed', override: true })).status).toBe(204)
    const resumed = await getDeployment(t, admin, id)
    expect(resumed.paused).toBeUndefined()
    expect(resumed.rollout_log.at(-1).reason).toContain('overriding the failure gate')
    expect((await poll(t, d.token)).status).toBe(200)
  })

  test('K failures in absolute terms abort when the policy says so', async () => {
    const devices = await fleet(3)
    const id = await deployWith(devices, { failure_gate: { max_failures: 1, action: 'abort' } })
    await run(devices[0]!, id, 'failure')
    const aborted = await getDeployment(t, admin, id)
    expect(aborted.status).toBe('finished')
    expect(aborted.rollout_log.at(-1)).toMatchObject({ kind: 'aborted' })
    expect((await poll(t, devices[1]!.token)).status).toBe(204)
  })

  test('every gate decision is on the event stream', async () => {
    const events: OutboxEvent[] = []
    const afterSeq = await t.services.events.lastSeq()
    const stop = t.services.events.subscribe(
      (event) => {
        if (event.type === 'deployment-rollout') events.push(event)
      },
      { afterSeq },
    )
    const devices = await fleet(2)
    const id = await deployWith(devices, { failure_gate: { max_failures: 1 } })
    await run(devices[0]!, id, 'failure')
    for (let i = 0; i < 50 && events.length < 2; i++) await Bun.sleep(10)
    stop()
    expect(events.map((e) => e.data.kind)).toEqual(['phase-opened', 'paused'])
    expect(events[1]!.subject).toBe(id)
    expect((await getDeployment(t, admin, id)).pause_reason).toBe(
      'failure gate: 1 failure reached the limit of 1',
    )
  })
})

describe('success gate', () => {
  test('the next phase opens when its time has come and the phase before succeeded enough', async () => {
    const devices = await fleet(4)
    const name = uniqueName('success-gated')
    await addArtifact(t, name, ['dev-a'])
    const later = new Date(t.clock.now().getTime() + 3600_000).toISOString()
    const id = await deploy(t, admin, {
      artifact_name: name,
      devices: devices.map((d) => d.id),
      phases: [{ batch_size_devices: 2 }, { start_ts: later }],
      policy: { success_gate: { percent: 100 } },
    })
    const first: Device[] = []
    const second: Device[] = []
    for (const device of devices) ((await poll(t, device.token)).status === 200 ? first : second).push(device)
    expect(first).toHaveLength(2)
    await report(t, first[0]!.token, id, 'success')
    t.clock.advance(7200)
    await t.services.deployments.runDue()
    const held = await getDeployment(t, admin, id)
    expect(held.rollout_log.at(-1)).toMatchObject({ kind: 'phase-held', phase: 1 })
    expect(held.rollout_log.at(-1).reason).toContain('1 of 2 devices succeeded')
    expect((await poll(t, second[0]!.token)).status).toBe(204)
    // The last success of the first phase opens the second at once.
    await report(t, first[1]!.token, id, 'success')
    expect((await getDeployment(t, admin, id)).rollout_log.at(-1)).toMatchObject({
      kind: 'phase-opened',
      phase: 1,
    })
    for (const device of second) expect((await poll(t, device.token)).status).toBe(200)
  })
})

describe('in-flight timeout', () => {
  test('a device in flight too long counts as failed for the gate; its later report is still recorded', async () => {
    const devices = await fleet(2)
    const id = await deployWith(devices, { inflight_timeout: 60, failure_gate: { max_failures: 1 } })
    expect((await poll(t, devices[0]!.token)).status).toBe(200)
    await report(t, devices[0]!.token, id, 'downloading')
    t.clock.advance(30)
    await t.services.deployments.runDue()
    expect((await getDeployment(t, admin, id)).paused).toBeUndefined()
    t.clock.advance(31)
    await t.services.deployments.runDue()
    const paused = await getDeployment(t, admin, id)
    expect(paused.paused).toBe(true)
    const listed = (await t.call('GET', `${MGMT}/deployments/${id}/devices/list`, { token: admin })).json
    expect(listed[0]).toMatchObject({ status: 'downloading', timed_out: true })
    expect((await report(t, devices[0]!.token, id, 'success')).status).toBe(204)
    const stats = (await t.call('GET', `${MGMT}/deployments/${id}/statistics`, { token: admin })).json
    expect(stats.success).toBe(1)
  })
})

describe('pause by hand', () => {
  test('paused: devices that have not started wait; resumed: they get it; no override needed', async () => {
    const devices = await fleet(2)
    const name = uniqueName('paused')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: devices.map((d) => d.id) })
    expect((await setStatus(id, { status: 'resumed' })).status).toBe(409)
    expect((await setStatus(id, { status: 'paused', reason: 'checking the canary' })).status).toBe(204)
    expect((await setStatus(id, { status: 'paused' })).status).toBe(409)
    const paused = await getDeployment(t, admin, id)
    expect(paused).toMatchObject({
      paused: true,
      pause_reason: 'checking the canary',
      resume_needs_override: false,
    })
    expect((await poll(t, devices[0]!.token)).status).toBe(204)
    expect((await setStatus(id, { status: 'resumed' })).status).toBe(204)
    expect((await poll(t, devices[0]!.token)).status).toBe(200)
    expect((await setStatus(id, { status: 'stopped' })).status).toBe(400)
  })
})
