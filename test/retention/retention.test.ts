import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { sqliteOf } from '../../src/deps.ts'
import { createRetentionService } from '../../src/retention/service.ts'
import type { RetentionStore } from '../../src/retention/store.ts'
import {
  acceptedDevice,
  addArtifact,
  deploy,
  logPath,
  MGMT,
  poll,
  report,
  uniqueName,
} from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { authenticate, type TestDevice } from '../helpers/device.ts'

setDefaultTimeout(30_000)

let t: TestApp
let admin: string
beforeAll(async () => {
  t = await createTestApp({ BENDER_RETENTION_DAYS: '30' })
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const messages = [{ level: 'error', message: 'Installation failed', timestamp: '2026-11-24T01:17:00Z' }]

/** A store that counts its batches, to see a pass work in several. */
function counting(store: RetentionStore) {
  const calls: number[] = []
  const spy: RetentionStore = {
    async purgeBatch(cutoff, after, limit) {
      const batch = await store.purgeBatch(cutoff, after, limit)
      calls.push(batch.visited)
      return batch
    },
  }
  return { spy, calls }
}

const reauth = async (device: TestDevice) => (await authenticate(t, device)).text

const listed = async (deploymentId: string) =>
  (
    (await t.call('GET', `${MGMT}/deployments/${deploymentId}/devices`, { token: admin })).json as {
      id: string
    }[]
  ).map((d) => d.id)

test('old finished history goes; a device keeps its newest, active deployments keep theirs; logs go', async () => {
  const a = await acceptedDevice(t, admin)
  const b = await acceptedDevice(t, admin)
  const c = await acceptedDevice(t, admin)
  const first = uniqueName('ret')
  await addArtifact(t, first, ['dev-a'])
  const d1 = await deploy(t, admin, { artifact_name: first, devices: [a.id] })
  expect((await poll(t, a.token)).status).toBe(200)
  expect((await report(t, a.token, d1, 'success')).status).toBe(204)
  t.clock.advance(60)
  const second = uniqueName('ret')
  await addArtifact(t, second, ['dev-a'])
  const d2 = await deploy(t, admin, { artifact_name: second, devices: [a.id] })
  expect((await poll(t, a.token)).status).toBe(200)
  expect((await report(t, a.token, d2, 'failure')).status).toBe(204)
  expect((await t.call('PUT', logPath(d2), { token: a.token, body: { messages } })).status).toBe(204)
  // B finished its part of d3 long ago, but C has not: d3 is still active.
  const third = uniqueName('ret')
  await addArtifact(t, third, ['dev-a'])
  const d3 = await deploy(t, admin, { artifact_name: third, devices: [b.id, c.id] })
  expect((await poll(t, b.token)).status).toBe(200)
  expect((await report(t, b.token, d3, 'success')).status).toBe(204)

  const retention = createRetentionService(t.deps, t.deps.stores.retention)
  expect(await retention.purgeNow()).toEqual({ rows: 0, logs: 0 })
  t.clock.advance(31 * 86_400)
  expect(await retention.purgeNow()).toEqual({ rows: 1, logs: 1 })
  // A month on, the tokens of before have expired.
  admin = (await loginAs(t)).token
  const [ta, tb, tc] = await Promise.all([a, b, c].map((d) => reauth(d.device)))

  expect(await listed(d1)).toEqual([])
  expect(await listed(d2)).toEqual([a.id])
  const logUrl = `${MGMT}/deployments/${d2}/devices/${a.id}/log`
  expect((await t.call('GET', logUrl, { token: admin })).status).toBe(404)
  expect(await listed(d3)).toEqual([b.id])
  // Nothing is handed out again: d3 is still active and B's part of it was kept.
  expect((await poll(t, tb!)).status).toBe(204)
  expect((await poll(t, ta!)).status).toBe(204)
  expect((await poll(t, tc!)).status).toBe(200)
})

test('a pass runs in small batches until the history is done', async () => {
  const device = await acceptedDevice(t, admin)
  const name = uniqueName('bulk')
  await addArtifact(t, name, ['dev-a'])
  const id = await deploy(t, admin, { artifact_name: name, devices: [device.id] })
  expect((await poll(t, device.token)).status).toBe(200)
  expect((await report(t, device.token, id, 'success')).status).toBe(204)
  // 1,200 more finished device deployments of that device, as years of updates would leave.
  const sqlite = sqliteOf(t.deps).$client
  const insert = sqlite.prepare(
    `INSERT INTO deployments_device_deployments (id, tenant_id, deployment_id, device_id, status, active, created, finished, log)
     SELECT ?, tenant_id, deployment_id, device_id, status, 0, created - ?, finished - ?, 0
     FROM deployments_device_deployments WHERE seq = ?`,
  )
  const { seq } = sqlite
    .query('SELECT seq FROM deployments_device_deployments WHERE deployment_id = ? AND device_id = ?')
    .get(id, device.id) as { seq: number }
  sqlite.transaction(() => {
    for (let i = 1; i <= 1200; i++) insert.run(crypto.randomUUID(), i * 1000, i * 1000, seq)
  })()
  t.clock.advance(31 * 86_400)
  admin = (await loginAs(t)).token
  const { spy, calls } = counting(t.deps.stores.retention)
  const totals = await createRetentionService(t.deps, spy).purgeNow()
  expect(totals.rows).toBe(1200)
  expect(calls.length).toBeGreaterThanOrEqual(3)
  expect(Math.max(...calls)).toBe(500)
  expect(await listed(id)).toEqual([device.id])
})

test('retention 0 keeps everything', async () => {
  const kept = await createTestApp({ BENDER_RETENTION_DAYS: '0' })
  try {
    const retention = createRetentionService(kept.deps, {
      purgeBatch: () => Promise.reject(new Error('must not be called')),
    })
    expect(await retention.purgeNow()).toEqual({ rows: 0, logs: 0 })
  } finally {
    await kept.close()
  }
})
