import { afterAll, beforeAll, expect, test } from 'bun:test'
import { and, eq, sql } from 'drizzle-orm'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import type { Clock } from '../../src/clock.ts'
import { outboxEvents } from '../../src/events/tables.pg.ts'
import type { ArtifactRow } from '../../src/services/artifacts/model.ts'
import { emptyStats, statusCode } from '../../src/services/deployments/status.ts'
import type { DeploymentRow } from '../../src/services/deployments/store.deployments.ts'
import { createPgDeploymentsStore } from '../../src/services/deployments/store.pg.ts'
import type { PhaseRow } from '../../src/services/deployments/store.rollout.ts'
import { statsOf, statValues } from '../../src/services/deployments/store.stats.ts'
import type { DeploymentsStore } from '../../src/services/deployments/store.ts'
import { openTestPgDatabase } from '../helpers/database.ts'

/*
 * Two bender instances on one PostgreSQL database: two pools, two stores, the same rows. Each case
 * sends the same change through both at once, many times over, and checks that it happened once.
 */

let now = Date.UTC(2026, 0, 1)
const clock: Clock = { now: () => new Date(now) }
const ids = { uuid: () => crypto.randomUUID() }
let first: { db: PgDatabase; close(): Promise<void> }
let second: PgDatabase
let a: DeploymentsStore
let b: DeploymentsStore

beforeAll(async () => {
  const opened = await openTestPgDatabase()
  first = opened
  second = await openPgDatabase(opened.url)
  a = createPgDeploymentsStore(opened.db, { clock, ids })
  b = createPgDeploymentsStore(second, { clock, ids })
})
afterAll(async () => {
  await second.$client.close()
  await first.close()
})

const ROUNDS = 25
const devices = Array.from({ length: ROUNDS }, (_, i) => `d${i}`)
const app: ArtifactRow = {
  ...{ id: crypto.randomUUID(), tenantId: '', name: 'app-1', description: '', deviceTypes: ['dev-a'] },
  ...{ info: { format: 'mender', version: 3 }, signed: false, updates: [], provides: null },
  ...{ depends: { device_type: ['dev-a'] }, clearsProvides: null, size: 100, modified: clock.now() },
}

function deployment(
  tenantId: string,
  deviceIds: string[],
  extra: Partial<DeploymentRow> = {},
): DeploymentRow {
  return {
    ...{ id: crypto.randomUUID(), tenantId, name: 'race', artifactName: 'app-1', created: clock.now() },
    ...{ finished: null, status: 'pending', deviceCount: 0, maxDevices: deviceIds.length, allDevices: false },
    ...{
      forceInstallation: false,
      artifacts: [],
      groups: [],
      target: 'devices',
      checksum: crypto.randomUUID(),
    },
    ...{ totalSize: 0, type: 'software', configuration: null },
    ...statValues({ ...emptyStats(), pending: deviceIds.length }),
    ...{ phaseCount: 0, openPhases: 1, retries: 0, policy: null, pausedAt: null, pauseReason: null },
    ...{ gateTripped: false, dynamic: false, filter: null, initialDeviceCount: deviceIds.length },
    ...extra,
  }
}

async function make(store: DeploymentsStore, row: DeploymentRow, deviceIds: string[], phases?: PhaseRow[]) {
  const made = await store.createDeployment(row, deviceIds, {
    devicePhases: phases ? deviceIds.map((_, i) => Math.min(i, phases.length - 1)) : undefined,
    phases: phases ?? [],
    openFirst: true,
  })
  if (!made) throw new Error('not made')
  return made
}

/** Both instances read the device's candidate, then both pick it up at once. */
async function raceToPickUp(tenantId: string, deviceId: string) {
  const [seenA, seenB] = await Promise.all([a.findNext(tenantId, deviceId), b.findNext(tenantId, deviceId)])
  const pick = (store: DeploymentsStore, next: typeof seenA) =>
    store.pickUp({
      ...{ tenantId, deviceId, deploymentId: next!.deployment.id, seen: null, artifact: app, assigned: true },
      ...{ requestKey: '["factory","dev-a"]', runningArtifact: 'factory' },
    })
  return Promise.all([pick(a, seenA), pick(b, seenB)])
}

const eventsOf = async (db: PgDatabase, type: (typeof outboxEvents.$inferSelect)['type'], subject: string) =>
  (
    await db
      .select({ n: sql<number>`count(*)`.mapWith(Number) })
      .from(outboxEvents)
      .where(and(eq(outboxEvents.type, type), eq(outboxEvents.subject, subject)))
  )[0]?.n

test('a device polling two instances at once picks the deployment up once', async () => {
  const row = await make(a, deployment('pick', devices), devices)
  for (const deviceId of devices) {
    const outcomes = (await raceToPickUp('pick', deviceId)).map((o) => o.kind).sort()
    // One made its device deployment; the other read before that commit and is told to read again.
    expect(outcomes).toEqual(['deploy', 'stale'])
  }
  const after = await b.findDeployment('pick', row.id)
  expect(after).toMatchObject({ deviceCount: ROUNDS, totalSize: 100 * ROUNDS })
  expect(await a.countForDeployment('pick', row.id, undefined)).toBe(ROUNDS)
  expect(statsOf(after!)).toMatchObject({ pending: ROUNDS })
})

test('the same status report through both instances moves the counts once; the end is announced once', async () => {
  const row = await make(a, deployment('report', devices), devices)
  for (const deviceId of devices) await raceToPickUp('report', deviceId)
  for (const deviceId of devices) {
    const both = await Promise.all([
      a.reportStatus('report', deviceId, row.id, 'success'),
      b.reportStatus('report', deviceId, row.id, 'success'),
    ])
    expect(both).toEqual(['done', 'done'])
  }
  const after = await a.findDeployment('report', row.id)
  expect(after?.status).toBe('finished')
  expect(statsOf(after!)).toMatchObject({ success: ROUNDS, pending: 0 })
  expect(await eventsOf(first.db, 'deployment-finished', row.id)).toBe(1)
  expect(await a.countForDeployment('report', row.id, [statusCode('success')])).toBe(ROUNDS)
})

test('an abort racing status reports and decommissions: no deadlock, every device counted once', async () => {
  const row = await make(a, deployment('abort', devices), devices)
  for (const deviceId of devices.slice(0, 20)) await raceToPickUp('abort', deviceId)
  await Promise.all([
    ...devices.slice(0, 10).map((d, i) => (i % 2 ? a : b).reportStatus('abort', d, row.id, 'downloading')),
    a.changeStatus('abort', row.id, { status: 'aborted' }),
    b.changeStatus('abort', row.id, { status: 'aborted' }),
    ...devices.slice(10, 20).map((d, i) => (i % 2 ? b : a).endForDevice('abort', d, 'decommissioned')),
  ])
  const after = await a.findDeployment('abort', row.id)
  expect(after?.status).toBe('finished')
  const stats = statsOf(after!)
  const counted = Object.values(stats).reduce((sum, n) => sum + n, 0)
  // Recounted from the device deployments: those that never asked are out; no device twice.
  expect(counted).toBe(await a.countForDeployment('abort', row.id, undefined))
  expect(counted).toBeGreaterThanOrEqual(20)
  expect(await eventsOf(first.db, 'deployment-finished', row.id)).toBe(1)
})

test('a due phase is opened by one instance; a timeout is counted once', async () => {
  const tenantId = 'phases'
  const start = clock.now()
  const later = new Date(start.getTime() + 60_000)
  const row = deployment(tenantId, ['p1', 'p2'], {
    ...{ phaseCount: 2, policy: { failure_gate: { percent: 90 }, inflight_timeout: 30 } },
  })
  const phase = (idx: number, at: Date): PhaseRow => ({
    ...{ tenantId, deploymentId: row.id, idx, id: crypto.randomUUID(), batchSize: null, batchSizeDevices: 1 },
    ...{
      startTs: at,
      size: 1,
      deviceCount: 0,
      opened: null,
      finished: 0,
      failed: 0,
      succeeded: 0,
      held: false,
    },
  })
  await make(a, row, ['p1', 'p2'], [phase(0, start), phase(1, later)])
  await raceToPickUp(tenantId, 'p1')
  await a.reportStatus(tenantId, 'p1', row.id, 'downloading')
  now += 120_000
  const [dueA, dueB] = await Promise.all([a.duePhases(clock.now(), 10), b.duePhases(clock.now(), 10)])
  const opened = await Promise.all([a.openDuePhase(dueA[0]!), b.openDuePhase(dueB[0]!)])
  expect(opened.sort()).toEqual([false, true])
  const [overA, overB] = await Promise.all([
    a.overdueInFlight(clock.now(), 10),
    b.overdueInFlight(clock.now(), 10),
  ])
  await Promise.all([a.timeOut(overA[0]!), b.timeOut(overB[0]!)])
  expect((await a.listPhases(tenantId, row.id))[0]).toMatchObject({ finished: 1, failed: 1 })
  const kinds = (await b.listLog(tenantId, row.id)).map((entry) => entry.kind)
  expect(kinds.filter((kind) => kind === 'phase-opened')).toHaveLength(2)
  expect(kinds.filter((kind) => kind === 'paused')).toHaveLength(1)
})

test('the same deployment made through both instances at once is made once, at distinct times', async () => {
  const row = deployment('create', ['c1'])
  const made = await Promise.all([
    a.createDeployment({ ...row, id: crypto.randomUUID() }, ['c1'], { phases: [], openFirst: true }),
    b.createDeployment({ ...row, id: crypto.randomUUID() }, ['c1'], { phases: [], openFirst: true }),
  ])
  expect(made.filter(Boolean)).toHaveLength(1)
  const others = await Promise.all(
    ['x', 'y', 'z'].map((name, i) =>
      (i % 2 ? a : b).createDeployment(deployment('create', ['c2'], { name }), ['c2'], {
        phases: [],
        openFirst: true,
      }),
    ),
  )
  const times = others.map((d) => d?.created.getTime())
  expect(new Set(times).size).toBe(3)
})
