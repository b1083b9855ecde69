import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LINK_PATH_PREFIX } from '../../src/storage/links.ts'
import { acceptedDevice, getDeployment, poll, report } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { readArtifactWithTool } from '../helpers/mender-tools.ts'
import { configurationStatus, MGMT } from './helpers.ts'

let t: TestApp
let admin: string
let dir: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
  dir = mkdtempSync(join(tmpdir(), 'bender-configuration-'))
})
afterAll(() => {
  t.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The artifact a download link points at, read from the blob store into a file. */
async function downloaded(uri: string, name: string): Promise<string> {
  const key = new URL(uri).pathname.slice(LINK_PATH_PREFIX.length)
  const content = await t.deps.blobs.get(key)
  if (!content) throw new Error(`no object under ${key}`)
  const path = join(dir, name)
  await Bun.write(path, await new Response(content.body).arrayBuffer())
  return path
}

test('a configuration deployment hands the device an artifact generated for its type, then finishes', async () => {
  const device = await acceptedDevice(t, admin)
  await configurationStatus(t, admin, device.id, 200)
  const configuration = { timezone: 'Europe/Oslo', 'ntp.server': 'pool.ntp.org', empty: '' }
  await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: configuration })
  const id = (await t.call('POST', `${MGMT}/${device.id}/deploy`, { token: admin, body: {} })).json
    .deployment_id

  const next = await poll(t, device.token, { artifact_name: 'factory', device_type: 'kiosk-arm' })
  expect(next.status).toBe(200)
  expect(next.json).toMatchObject({
    id,
    artifact: {
      id: `${id}${device.id}`,
      artifact_name: `configuration-${id}`,
      device_types_compatible: ['kiosk-arm'],
    },
  })
  const read = readArtifactWithTool(await downloaded(next.json.artifact.source.uri, 'first.mender'))
  expect(read.name).toBe(`configuration-${id}`)
  expect(read.version).toBe(3)
  expect(read.devices).toEqual(['kiosk-arm'])
  expect(read.updates).toHaveLength(1)
  const [update] = read.updates
  expect(update!.type).toBe('mender-configure')
  expect(update!.provides).toEqual({ 'data-partition.mender-configure.version': `configuration-${id}` })
  expect(update!.clears).toContain('data-partition.mender-configure.*')
  expect(update!.metadata).toEqual(configuration)
  expect(update!.files).toEqual([])

  // Asking again (a retried download) gets the same artifact; the device deployment is the same.
  const again = await poll(t, device.token, { artifact_name: 'factory', device_type: 'kiosk-arm' })
  expect(again.json.id).toBe(id)
  expect(new URL(again.json.artifact.source.uri).pathname).toBe(
    new URL(next.json.artifact.source.uri).pathname,
  )

  for (const status of ['downloading', 'installing', 'success'])
    expect((await report(t, device.token, id, status)).status).toBe(204)
  const done = await getDeployment(t, admin, id)
  expect(done).toMatchObject({ status: 'finished', type: 'configuration', device_count: 1 })
  expect(done.statistics.status.success).toBe(1)
  expect(
    (await poll(t, device.token, { artifact_name: `configuration-${id}`, device_type: 'kiosk-arm' })).status,
  ).toBe(204)
})

test('the configuration deployed is the one configured when deploying, not a later change', async () => {
  const device = await acceptedDevice(t, admin)
  await configurationStatus(t, admin, device.id, 200)
  await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { version: 'one' } })
  const id = (await t.call('POST', `${MGMT}/${device.id}/deploy`, { token: admin, body: {} })).json
    .deployment_id
  await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { version: 'two' } })
  const next = await poll(t, device.token, { artifact_name: 'factory', device_type: 'dev-a' })
  expect(next.json.id).toBe(id)
  const read = readArtifactWithTool(await downloaded(next.json.artifact.source.uri, 'snapshot.mender'))
  expect(read.updates[0]!.metadata).toEqual({ version: 'one' })
})

test('an aborted configuration deployment is not handed out', async () => {
  const device = await acceptedDevice(t, admin)
  await configurationStatus(t, admin, device.id, 200)
  const id = (await t.call('POST', `${MGMT}/${device.id}/deploy`, { token: admin, body: {} })).json
    .deployment_id
  const abort = await t.call('PUT', `/api/management/v1/deployments/deployments/${id}/status`, {
    token: admin,
    body: { status: 'aborted' },
  })
  expect(abort.status).toBe(204)
  expect((await poll(t, device.token)).status).toBe(204)
})

test('a configuration deployment with retries hands the configuration out again after a failed install', async () => {
  const device = await acceptedDevice(t, admin)
  await configurationStatus(t, admin, device.id, 200)
  await t.call('PUT', `${MGMT}/${device.id}`, { token: admin, body: { mode: 'eco' } })
  const deployed = await t.call('POST', `${MGMT}/${device.id}/deploy`, { token: admin, body: { retries: 1 } })
  expect(deployed.status).toBe(200)
  const id = deployed.json.deployment_id
  expect(await getDeployment(t, admin, id)).toMatchObject({ retries: 1 })
  const provides = { artifact_name: 'factory', device_type: 'kiosk-arm' }

  expect((await poll(t, device.token, provides)).json.id).toBe(id)
  for (const status of ['downloading', 'installing', 'failure'])
    expect((await report(t, device.token, id, status)).status).toBe(204)
  // One retry left: the same deployment again, not finished.
  expect((await getDeployment(t, admin, id)).status).not.toBe('finished')
  const second = await poll(t, device.token, provides)
  expect(second.status).toBe(200)
  expect(second.json.id).toBe(id)
  for (const status of ['downloading', 'installing', 'failure'])
    expect((await report(t, device.token, id, status)).status).toBe(204)
  // Retries used up: the deployment finishes with the failure, and nothing more is handed out.
  const done = await getDeployment(t, admin, id)
  expect(done).toMatchObject({ status: 'finished', type: 'configuration' })
  expect(done.statistics.status.failure).toBe(1)
  expect((await poll(t, device.token, provides)).status).toBe(204)
  const devices = await t.call('GET', `/api/management/v1/deployments/deployments/${id}/devices`, {
    token: admin,
  })
  expect(devices.json).toEqual([expect.objectContaining({ id: device.id, status: 'failure', attempts: 2 })])
})
