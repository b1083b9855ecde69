import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { OutboxEvent } from '../../src/events/model.ts'
import { acceptedDevice, addArtifact, deploy, poll, report, uniqueName } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

let t: TestApp
let admin: string

beforeEach(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterEach(() => t.close())

/**
 * Collects what a subscription hears, from now on unless `afterSeq` says otherwise (read first: on
 * PostgreSQL "now" is a round trip away); `until` resolves once `n` events arrived.
 */
async function collect(options: { afterSeq?: number } = {}) {
  const afterSeq = options.afterSeq ?? (await t.services.events.lastSeq())
  const events: OutboxEvent[] = []
  let waiting: { n: number; resolve: () => void } | undefined
  const stop = t.services.events.subscribe(
    (event) => {
      events.push(event)
      if (waiting && events.length >= waiting.n) waiting.resolve()
    },
    { afterSeq },
  )
  const until = (n: number) =>
    events.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { n, resolve }))
  return { events, stop, until, types: () => events.map((e) => e.type) }
}

describe('device events', () => {
  test('a new device is pending; accepting it provisions it and changes its status; decommissioning says so', async () => {
    const heard = await collect()
    const device = await acceptedDevice(t, admin)
    await heard.until(3)
    expect(heard.types()).toEqual(['device-status-changed', 'device-provisioned', 'device-status-changed'])
    const [pending, provisioned, changed] = heard.events
    expect(pending!).toMatchObject({ subject: device.id, data: { id: device.id, status: 'pending' } })
    expect(provisioned!.subject).toBe(device.id)
    expect(provisioned!.data).toMatchObject({ id: device.id, status: 'accepted' })
    const sets = provisioned!.data.auth_sets as any[]
    expect(sets).toHaveLength(1)
    expect(sets[0]).toMatchObject({
      device_id: device.id,
      status: 'accepted',
      identity_data: device.device.identity,
    })
    expect(sets[0].pubkey).toContain('BEGIN PUBLIC KEY')
    expect(typeof provisioned!.data.created_ts).toBe('string')
    expect(changed!.data).toEqual({ id: device.id, status: 'accepted' })

    const res = await t.call('DELETE', `/api/management/v2/devauth/devices/${device.id}`, { token: admin })
    expect(res.status).toBe(204)
    await heard.until(4)
    expect(heard.events[3]).toMatchObject({
      type: 'device-decommissioned',
      subject: device.id,
      data: { id: device.id },
    })
    heard.stop()
  })

  test('a refused change writes no event', async () => {
    const device = await acceptedDevice(t, admin)
    const before = await t.services.events.lastSeq()
    const set = (await t.call('GET', `/api/management/v2/devauth/devices/${device.id}`, { token: admin }))
      .json.auth_sets[0]
    // Sending an accepted auth set to preauthorized is not a transition an operator may make.
    const res = await t.call('PUT', `/api/management/v2/devauth/devices/${device.id}/auth/${set.id}/status`, {
      token: admin,
      body: { status: 'preauthorized' },
    })
    expect(res.status).toBe(400)
    expect(await t.services.events.lastSeq()).toBe(before)
  })
})

describe('subscriptions', () => {
  test('replays from a seq, in order, then keeps following', async () => {
    await acceptedDevice(t, admin)
    await acceptedDevice(t, admin)
    const replay = await collect({ afterSeq: 0 })
    await replay.until(6)
    const seqs = replay.events.map((e) => e.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    const third = await acceptedDevice(t, admin)
    await replay.until(9)
    expect(replay.events.slice(6).map((e) => e.subject)).toEqual([third.id, third.id, third.id])
    replay.stop()
  })

  test('a listener that has not finished holds back only itself: requests go on and events queue in order', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const slow: OutboxEvent[] = []
    const stopSlow = t.services.events.subscribe(async (event) => {
      slow.push(event)
      await held
    })
    const fast = await collect()
    const first = await acceptedDevice(t, admin)
    const second = await acceptedDevice(t, admin)
    // Both devices were accepted (six events written) while the slow listener sat on the first.
    await fast.until(6)
    expect(slow).toHaveLength(1)
    release()
    while (slow.length < 6) await Bun.sleep(5)
    expect(slow.map((e) => e.subject)).toEqual([
      first.id,
      first.id,
      first.id,
      second.id,
      second.id,
      second.id,
    ])
    stopSlow()
    fast.stop()
  })

  test('a listener that throws is given the next event', async () => {
    const seen: string[] = []
    const stop = t.services.events.subscribe((event) => {
      seen.push(event.type)
      if (seen.length === 1) throw new Error('listener bug')
    })
    await acceptedDevice(t, admin)
    while (seen.length < 3) await Bun.sleep(5)
    expect(seen).toEqual(['device-status-changed', 'device-provisioned', 'device-status-changed'])
    stop()
  })

  test('a stopped subscription hears nothing more', async () => {
    const heard = await collect()
    heard.stop()
    await acceptedDevice(t, admin)
    await Bun.sleep(20)
    expect(heard.events).toEqual([])
  })
})

describe('deployment events', () => {
  test('a deployment is created, each device status change is heard in order, and it finishes with its counts', async () => {
    const device = await acceptedDevice(t, admin)
    const name = uniqueName('events')
    await addArtifact(t, name, ['dev-a'])
    const heard = await collect()
    const id = await deploy(t, admin, { artifact_name: name, devices: [device.id] })
    expect((await poll(t, device.token)).status).toBe(200)
    for (const status of ['downloading', 'installing', 'success'])
      expect((await report(t, device.token, id, status)).status).toBe(204)
    await heard.until(7)
    expect(heard.events[0]).toMatchObject({ type: 'deployment-created', subject: id })
    expect(heard.events[0]!.data).toMatchObject({
      id,
      name: 'rollout',
      artifact_name: name,
      status: 'pending',
    })
    const ofDevice = heard.events.filter((e) => e.type === 'device-deployment-status-changed')
    expect(ofDevice.map((e) => e.data.status)).toEqual(['pending', 'downloading', 'installing', 'success'])
    expect(ofDevice.every((e) => e.subject === device.id && e.data.deployment_id === id)).toBe(true)
    const ofDeployment = heard.events.filter((e) => e.subject === id)
    expect(ofDeployment.map((e) => [e.type, e.data.status])).toEqual([
      ['deployment-created', 'pending'],
      ['deployment-status-changed', 'inprogress'],
      ['deployment-finished', 'finished'],
    ])
    expect((ofDeployment[2]!.data.statistics as any).status.success).toBe(1)
    heard.stop()
  })
})

describe('retention', () => {
  test('prune drops events older than the retention', async () => {
    await acceptedDevice(t, admin)
    expect(await t.services.events.lastSeq()).toBeGreaterThan(0)
    t.clock.advance(8 * 86400)
    expect(await t.services.events.prune()).toBe(3)
  })
})
