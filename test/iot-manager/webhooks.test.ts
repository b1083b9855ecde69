import { afterEach, describe, expect, test } from 'bun:test'
import { acceptedDevice, addArtifact, deploy, poll, report, uniqueName } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { waitFor } from '../helpers/server.ts'
import { expectedSignature, startReceiver, typesFor } from './receiver.ts'

const API = '/api/management/v1/iot-manager'
const SECRET = 'c0ffee0123456789'

let t: TestApp
let admin: string
let receiver: ReturnType<typeof startReceiver>

async function setUp(
  answer?: Parameters<typeof startReceiver>[0],
  options: { env?: Record<string, string>; events?: string[]; secret?: string } = {},
) {
  t = await createTestApp(options.env)
  admin = (await loginAs(t)).token
  receiver = startReceiver(answer)
  const res = await t.call('POST', `${API}/integrations`, {
    token: admin,
    body: {
      provider: 'webhook',
      credentials: {
        type: 'http',
        http: { url: receiver.url, ...(options.secret ? { secret: options.secret } : {}) },
      },
      ...(options.events ? { events: options.events } : {}),
    },
  })
  expect(res.status).toBe(201)
  return res.headers.get('location')!.split('/').pop()!
}
afterEach(() => {
  receiver?.stop()
  t?.close()
})

const events = async (query = '') =>
  (await t.call('GET', `${API}/events${query}`, { token: admin })).json as any[]

describe('webhook deliveries', () => {
  test('device events arrive signed, in Mender’s shape, in order per device, and are listed as delivered', async () => {
    const integration = await setUp(undefined, { secret: SECRET })
    const one = await acceptedDevice(t, admin)
    const two = await acceptedDevice(t, admin)
    expect(
      (await t.call('DELETE', `/api/management/v2/devauth/devices/${two.id}`, { token: admin })).status,
    ).toBe(204)
    // A new device is announced as pending first (it appears), then provisioned when accepted.
    await receiver.until(7)
    for (const r of receiver.received) {
      expect(r.headers.get('content-type')).toBe('application/json')
      expect(r.headers.get('x-men-algorithm')).toBe('MEN-HMAC-SHA256-Payload')
      expect(r.headers.get('x-men-signature')).toBe(expectedSignature(r.body, SECRET))
      expect(Object.keys(r.json).sort()).toEqual(['data', 'id', 'time', 'type'])
      expect(new Date(r.json.time).toISOString()).toBe(r.json.time)
    }
    expect(typesFor(receiver.received, one.id)).toEqual([
      'device-status-changed',
      'device-provisioned',
      'device-status-changed',
    ])
    expect(typesFor(receiver.received, two.id)).toEqual([
      'device-status-changed',
      'device-provisioned',
      'device-status-changed',
      'device-decommissioned',
    ])
    const provisioned = receiver.received.find(
      (r) => r.json.type === 'device-provisioned' && r.json.data.id === one.id,
    )!
    expect(provisioned.json.data).toMatchObject({
      id: one.id,
      status: 'accepted',
      auth_sets: [{ device_id: one.id, status: 'accepted' }],
    })
    expect(receiver.received.find((r) => r.json.type === 'device-decommissioned')!.json.data).toEqual({
      id: two.id,
    })

    const listed = await waitFor('every delivery recorded', async () => {
      const all = await events()
      return all.length === 7 && all.every((e) => e.delivery_statuses[0]?.success) ? all : undefined
    })
    expect(listed.map((e) => e.id).sort()).toEqual(receiver.received.map((r) => r.json.id).sort())
    expect(listed[0].delivery_statuses).toEqual([
      { integration_id: integration, success: true, status_code: 200, state: 'delivered', attempts: 1 },
    ])
    expect((await events('?per_page=2&page=4')).length).toBe(1)
    expect((await events(`?integration_id=${integration}&per_page=1`)).map((e) => e.id)).toEqual([
      listed[0].id,
    ])
  })

  test('a failed delivery is retried after a wait, and later events of the device wait for it', async () => {
    await setUp((_, index) => new Response(null, { status: index === 0 ? 503 : 204 }))
    const device = await acceptedDevice(t, admin)
    await receiver.until(1)
    const failed = await waitFor('the failure recorded', async () =>
      (await events()).find(
        (e) => e.type === 'device-status-changed' && e.delivery_statuses[0].attempts === 1,
      ),
    )
    expect(failed.delivery_statuses[0]).toMatchObject({ success: false, status_code: 503, state: 'pending' })
    // Its retry is not due yet: the status change behind it is held back meanwhile.
    expect(receiver.received).toHaveLength(1)
    t.clock.advance(2)
    await receiver.until(4)
    expect(receiver.received.map((r) => r.json.type)).toEqual([
      'device-status-changed',
      'device-status-changed',
      'device-provisioned',
      'device-status-changed',
    ])
    expect(receiver.received[0]!.json.id).toBe(receiver.received[1]!.json.id)
    const done = await waitFor('both delivered', async () => {
      const all = await events()
      return all.every((e) => e.delivery_statuses[0].success) ? all : undefined
    })
    const first = done.find((e) => e.id === receiver.received[0]!.json.id)
    expect(first.delivery_statuses[0]).toMatchObject({
      attempts: 2,
      status_code: 204,
    })
    expect(typesFor(receiver.received, device.id)).toHaveLength(4)
  })

  test('after the last attempt an event is given up and the next one goes', async () => {
    await setUp(() => new Response('no', { status: 500 }), { env: { BENDER_WEBHOOK_MAX_ATTEMPTS: '1' } })
    await acceptedDevice(t, admin)
    await receiver.until(3)
    const all = await waitFor('every one given up', async () => {
      const listed = await events()
      return listed.length === 3 && listed.every((e) => e.delivery_statuses[0].state === 'failed')
        ? listed
        : undefined
    })
    expect(all.map((e) => e.delivery_statuses[0])).toEqual([
      expect.objectContaining({
        success: false,
        status_code: 500,
        attempts: 1,
        error: 'the receiver answered 500',
      }),
      expect.objectContaining({ success: false, status_code: 500, attempts: 1 }),
      expect.objectContaining({ success: false, status_code: 500, attempts: 1 }),
    ])
  })

  test('a redirect is not followed', async () => {
    await setUp((r) =>
      r.path === '/hook'
        ? new Response(null, { status: 302, headers: { location: '/elsewhere' } })
        : new Response(null, { status: 200 }),
    )
    await acceptedDevice(t, admin)
    const listed = await waitFor('the redirect recorded', async () =>
      (await events()).find((e) => e.delivery_statuses[0].attempts > 0),
    )
    expect(listed.delivery_statuses[0]).toMatchObject({ success: false, status_code: 302 })
    expect(receiver.received.every((r) => r.path === '/hook')).toBe(true)
  })

  test('a receiver that does not answer in time fails the attempt', async () => {
    await setUp(() => new Promise<Response>(() => {}), { env: { BENDER_WEBHOOK_TIMEOUT: '1' } })
    await acceptedDevice(t, admin)
    const listed = await waitFor('the timeout recorded', async () =>
      (await events()).find((e) => e.delivery_statuses[0].attempts > 0),
    )
    expect(listed.delivery_statuses[0]).toMatchObject({
      success: false,
      state: 'pending',
      error: 'no answer in time',
    })
  })

  test('only the start of an endless answer is read', async () => {
    // Each answer ends only when bender hangs up on it (the stream is cancelled then).
    let cutOff = 0
    const endless = () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            controller.enqueue(new Uint8Array(16 * 1024))
          },
          cancel() {
            cutOff++
          },
        }),
        { status: 200 },
      )
    await setUp(endless)
    await acceptedDevice(t, admin)
    const listed = await waitFor('every one delivered', async () => {
      const all = await events()
      return all.length === 3 && all.every((e) => e.delivery_statuses[0].success) ? all : undefined
    })
    expect(listed.map((e) => e.delivery_statuses[0].status_code)).toEqual([200, 200, 200])
    await waitFor('each endless answer cut off', () => (cutOff >= 3 ? true : undefined))
  })

  test('a receiver that hangs does not hold up device requests', async () => {
    let answered = false
    let release!: () => void
    const hang = new Promise<void>((resolve) => (release = resolve))
    await setUp(async () => {
      await hang
      answered = true
      return new Response(null, { status: 200 })
    })
    const device = await acceptedDevice(t, admin)
    await receiver.until(1)
    // The first delivery is stuck in the receiver; the device's own requests go on regardless.
    for (let i = 0; i < 20; i++) expect((await poll(t, device.token)).status).toBe(204)
    const inventory = await t.call('PATCH', '/api/devices/v1/inventory/device/attributes', {
      token: device.token,
      body: [{ name: 'mac', value: '00:11:22:33:44:55' }],
    })
    expect(inventory.status).toBe(200)
    const second = await acceptedDevice(t, admin)
    expect(second.token).toBeTruthy()
    expect(answered).toBe(false)
    release()
    await receiver.until(4)
    expect(answered).toBe(true)
  })

  test('deployment events go to a webhook that chose them, and device events do not', async () => {
    await setUp(undefined, {
      events: ['deployment-created', 'deployment-finished', 'device-deployment-status-changed'],
    })
    const device = await acceptedDevice(t, admin)
    const name = uniqueName('hooked')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, { artifact_name: name, devices: [device.id] })
    expect((await poll(t, device.token)).status).toBe(200)
    expect((await report(t, device.token, id, 'success')).status).toBe(204)
    await receiver.until(4)
    await waitFor('the finish', () =>
      receiver.received.some((r) => r.json.type === 'deployment-finished') ? true : undefined,
    )
    const types = receiver.received.map((r) => r.json.type)
    expect(
      types.filter((type) => type.startsWith('device-') && type !== 'device-deployment-status-changed'),
    ).toEqual([])
    expect(types[0]).toBe('deployment-created')
    const finished = receiver.received.find((r) => r.json.type === 'deployment-finished')!
    expect(finished.json.data).toMatchObject({
      id,
      status: 'finished',
      statistics: { status: { success: 1 } },
    })
    expect(typesFor(receiver.received, device.id)).toEqual([
      'device-deployment-status-changed',
      'device-deployment-status-changed',
    ])
  })
  test('rollout steps reach a webhook that chose deployment-rollout, in order, signed', async () => {
    await setUp(undefined, { events: ['deployment-rollout'], secret: SECRET })
    const devices = [await acceptedDevice(t, admin), await acceptedDevice(t, admin)]
    const name = uniqueName('gated')
    await addArtifact(t, name, ['dev-a'])
    const id = await deploy(t, admin, {
      artifact_name: name,
      devices: devices.map((d) => d.id),
      policy: { failure_gate: { max_failures: 1 } },
    })
    expect((await poll(t, devices[0]!.token)).status).toBe(200)
    expect((await report(t, devices[0]!.token, id, 'failure')).status).toBe(204)
    // The gate paused the rollout; resuming past it is a step too.
    const resumed = await t.call('PUT', `/api/management/v1/deployments/deployments/${id}/status`, {
      token: admin,
      body: { status: 'resumed', override: true },
    })
    expect(resumed.status).toBe(204)
    await receiver.until(3)
    expect(receiver.received.map((r) => r.json.type)).toEqual([
      'deployment-rollout',
      'deployment-rollout',
      'deployment-rollout',
    ])
    expect(receiver.received.map((r) => r.json.data.kind)).toEqual(['phase-opened', 'paused', 'resumed'])
    for (const r of receiver.received) {
      expect(r.json.data.deployment_id).toBe(id)
      expect(r.headers.get('x-men-signature')).toBe(expectedSignature(r.body, SECRET))
    }
    expect(receiver.received[1]!.json.data.reason).toBeString()
  })
})
