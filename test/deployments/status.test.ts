import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import {
  acceptedDevice,
  addArtifact,
  deploy,
  getDeployment,
  logPath,
  MGMT,
  poll,
  report,
  statusPath,
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

/** A deployment of a fresh artifact to `count` new devices, each of which has picked it up. */
async function started(count: number) {
  const name = uniqueName('status')
  await addArtifact(t, name, ['dev-a'])
  const devices = []
  for (let i = 0; i < count; i++) devices.push(await acceptedDevice(t, admin))
  const id = await deploy(t, admin, { artifact_name: name, devices: devices.map((d) => d.id) })
  for (const d of devices) expect((await poll(t, d.token)).status).toBe(200)
  return { id, devices }
}

const deviceEntry = async (deploymentId: string, deviceId: string) =>
  (
    (await t.call('GET', `${MGMT}/deployments/${deploymentId}/devices`, { token: admin })).json as {
      id: string
    }[]
  ).find((d) => d.id === deviceId) as Record<string, unknown>

describe('status reports', () => {
  test('pending -> inprogress -> finished, counts moved one device at a time, times set', async () => {
    const { id, devices } = await started(2)
    const [a, b] = devices as [(typeof devices)[0], (typeof devices)[0]]
    let deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('pending')
    expect(deployment.statistics.status.pending).toBe(2)
    expect(await deviceEntry(id, a.id)).toMatchObject({ status: 'pending', log: false })
    expect((await deviceEntry(id, a.id)).started).toBeUndefined()

    t.clock.advance(5)
    expect((await report(t, a.token, id, 'downloading')).status).toBe(204)
    deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('inprogress')
    expect(deployment.statistics.status).toMatchObject({ pending: 1, downloading: 1 })
    const startedAt = t.clock.now().toISOString()
    expect(await deviceEntry(id, a.id)).toMatchObject({ status: 'downloading', started: startedAt })

    // The same status again is a no-op; the client sends downloading twice.
    expect((await report(t, a.token, id, 'downloading')).status).toBe(204)
    expect((await getDeployment(t, admin, id)).statistics.status.downloading).toBe(1)

    t.clock.advance(5)
    expect((await report(t, a.token, id, 'installing', 'ArtifactInstall_Enter')).status).toBe(204)
    expect((await report(t, a.token, id, 'success')).status).toBe(204)
    const entry = await deviceEntry(id, a.id)
    expect(entry).toMatchObject({
      status: 'success',
      started: startedAt,
      finished: t.clock.now().toISOString(),
      substate: 'ArtifactInstall_Enter',
    })
    deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('inprogress')
    expect(deployment.finished).toBeUndefined()

    expect((await report(t, b.token, id, 'failure')).status).toBe(204)
    deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('finished')
    expect(deployment.finished).toBe(t.clock.now().toISOString())
    expect(deployment.statistics.status).toMatchObject({ pending: 0, success: 1, failure: 1, downloading: 0 })
    const stats = (await t.call('GET', `${MGMT}/deployments/${id}/statistics`, { token: admin })).json
    expect(Object.keys(stats).sort()).toEqual(
      [
        'aborted',
        'already-installed',
        'decommissioned',
        'downloading',
        'failure',
        'installing',
        'noartifact',
        'pause_before_committing',
        'pause_before_installing',
        'pause_before_rebooting',
        'pending',
        'rebooting',
        'success',
      ].sort(),
    )
  })

  test('no transition rule: a device may report failure after success; a finished deployment stays finished', async () => {
    const { id, devices } = await started(1)
    const d = devices[0]!
    expect((await report(t, d.token, id, 'success')).status).toBe(204)
    expect((await report(t, d.token, id, 'failure')).status).toBe(204)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('finished')
    expect(deployment.statistics.status).toMatchObject({ success: 0, failure: 1 })
  })

  test('pause states count as in progress', async () => {
    const { id, devices } = await started(1)
    expect((await report(t, devices[0]!.token, id, 'pause_before_installing')).status).toBe(204)
    const deployment = await getDeployment(t, admin, id)
    expect(deployment.status).toBe('inprogress')
    expect(deployment.statistics.status.pause_before_installing).toBe(1)
  })

  test('400 for a status a device may not report or a long substate; 404 for a deployment the device is not in', async () => {
    const { id, devices } = await started(1)
    const d = devices[0]!
    for (const status of ['pending', 'aborted', 'noartifact', 'decommissioned', 'bogus']) {
      expect((await report(t, d.token, id, status)).status).toBe(400)
    }
    const long = await report(t, d.token, id, 'installing', 'x'.repeat(201))
    expect(long.status).toBe(400)
    expect(long.json.error).toBe('substate: the length must be no more than 200')
    expect((await t.call('PUT', statusPath(id), { token: d.token, body: {} })).status).toBe(400)
    const stranger = await acceptedDevice(t, admin)
    expect((await report(t, stranger.token, id, 'downloading')).status).toBe(404)
    expect((await report(t, d.token, crypto.randomUUID(), 'downloading')).status).toBe(404)
    expect((await report(t, d.token, id, 'downloading')).status).toBe(204)
  })

  test('a chunked body (as the Go client sends) is accepted', async () => {
    const { id, devices } = await started(1)
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"status":"downloading"}\n'))
        controller.close()
      },
    })
    const res = await t.call('PUT', statusPath(id), {
      token: devices[0]!.token,
      raw: body,
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(204)
  })
})

describe('aborted and decommissioned are sticky', () => {
  test('after the deployment is aborted, the device gets 409 and nothing more', async () => {
    const { id, devices } = await started(1)
    const d = devices[0]!
    expect((await report(t, d.token, id, 'downloading')).status).toBe(204)
    expect(
      (await t.call('PUT', `${MGMT}/deployments/${id}/status`, { token: admin, body: { status: 'aborted' } }))
        .status,
    ).toBe(204)
    const res = await report(t, d.token, id, 'installing')
    expect(res.status).toBe(409)
    expect(res.json.error).toBe('Deployment aborted')
    expect((await report(t, d.token, id, 'failure')).status).toBe(409)
    expect((await poll(t, d.token)).status).toBe(204)
  })

  test('decommissioning marks the device’s unfinished and not yet picked up deployments decommissioned', async () => {
    const name = uniqueName('decommission')
    const waiting = uniqueName('decommission-waiting')
    await addArtifact(t, name, ['dev-a'])
    await addArtifact(t, waiting, ['dev-a'])
    const gone = await acceptedDevice(t, admin)
    const stays = await acceptedDevice(t, admin)
    const running = await deploy(t, admin, { artifact_name: name, devices: [gone.id, stays.id] })
    const later = await deploy(t, admin, { artifact_name: waiting, devices: [gone.id] })
    expect((await poll(t, gone.token)).json.id).toBe(running)
    expect((await report(t, gone.token, running, 'installing')).status).toBe(204)
    expect(
      (await t.call('DELETE', `/api/management/v2/devauth/devices/${gone.id}`, { token: admin })).status,
    ).toBe(204)

    expect(await deviceEntry(running, gone.id)).toMatchObject({ status: 'decommissioned' })
    let deployment = await getDeployment(t, admin, running)
    expect(deployment.statistics.status).toMatchObject({ installing: 0, decommissioned: 1, pending: 1 })
    expect(deployment.status).not.toBe('finished')
    // The deployment it never picked up is finished: its only device is gone.
    deployment = await getDeployment(t, admin, later)
    expect(deployment.statistics.status).toMatchObject({ pending: 0, decommissioned: 1 })
    expect(deployment.status).toBe('finished')
    expect(deployment.device_count).toBe(1)
    // Its token is gone with it; the service answers a late report from it with 409.
    expect((await report(t, gone.token, running, 'success')).status).toBe(401)
    await expect(t.services.deployments.reportStatus('', gone.id, running, 'success')).rejects.toThrow(
      'Device decommissioned',
    )
  })
})

describe('deployment logs', () => {
  const messages = [
    { level: 'info', message: 'Running Mender client version: 3.4.0', timestamp: '2026-11-24T01:16:59Z' },
    { level: 'error', message: 'Installation failed\n', timestamp: '2026-11-24T01:17:00.250000000+01:00' },
  ]

  test('stored (204, log flag set) and served as text in Mender’s line format; a second upload replaces it', async () => {
    const { id, devices } = await started(1)
    const d = devices[0]!
    const logUrl = `${MGMT}/deployments/${id}/devices/${d.id}/log`
    expect((await t.call('GET', logUrl, { token: admin })).status).toBe(404)
    expect((await report(t, d.token, id, 'failure')).status).toBe(204)
    expect((await t.call('PUT', logPath(id), { token: d.token, body: { messages } })).status).toBe(204)
    expect(await deviceEntry(id, d.id)).toMatchObject({ log: true })
    const res = await t.call('GET', logUrl, { token: admin })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/plain')
    expect(res.text).toBe(
      '2026-11-24 01:16:59 +0000 UTC info: Running Mender client version: 3.4.0\n' +
        '2026-11-24 00:17:00.25 +0000 UTC error: Installation failed\n',
    )
    expect(
      (await t.call('PUT', logPath(id), { token: d.token, body: { messages: [messages[0]] } })).status,
    ).toBe(204)
    expect((await t.call('GET', logUrl, { token: admin })).text.split('\n')).toHaveLength(2)
  })

  test('refused: no messages, a message missing a field, a bad time (400); a deployment the device is not in (404)', async () => {
    const { id, devices } = await started(1)
    const d = devices[0]!
    const put = (body: unknown, deploymentId = id) =>
      t.call('PUT', logPath(deploymentId), { token: d.token, body })
    expect((await put({ messages: [] })).status).toBe(400)
    expect((await put({})).status).toBe(400)
    expect((await put({ messages: [{ level: 'info', message: 'x' }] })).status).toBe(400)
    expect(
      (await put({ messages: [{ level: '', message: 'x', timestamp: '2026-11-24T01:16:59Z' }] })).status,
    ).toBe(400)
    expect((await put({ messages: [{ level: 'info', message: 'x', timestamp: 'yesterday' }] })).status).toBe(
      400,
    )
    expect((await put({ messages }, crypto.randomUUID())).status).toBe(404)
    expect(await deviceEntry(id, d.id)).toMatchObject({ log: false })
  })
})
