#!/usr/bin/env bun
/**
 * The deployments store's hot paths on both engines, in one run: a rollout's pick-ups and status
 * writes, and the poll of devices outside it, straight against the store (no HTTP).
 *
 *   bun scripts/bench-deployments-store.ts [--devices 2000] [--concurrency 32] [--polls 5000]
 *
 * For each of SQLite (a file in a temp dir), PostgreSQL with one pool and PostgreSQL with two pools
 * (two instances sharing the database, the devices' requests alternating between them): one
 * deployment to --devices devices, each picked up and then reported downloading, installing and
 * success, --concurrency devices at a time; reported as status writes (pick-ups included) per
 * second. Then --polls polls of devices that are not in it while it is active, --concurrency at a
 * time. PostgreSQL is a throwaway server from Debian's binaries on loopback (test/helpers/postgres.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openDatabase } from '../db/client.ts'
import { runPgMigrations } from '../db/migrate.pg.ts'
import { runMigrations } from '../db/migrate.ts'
import { openPgDatabase } from '../db/pg.ts'
import { systemClock } from '../src/clock.ts'
import type { ArtifactRow } from '../src/services/artifacts/model.ts'
import { emptyStats } from '../src/services/deployments/status.ts'
import type { DeploymentRow } from '../src/services/deployments/store.deployments.ts'
import { createPgDeploymentsStore } from '../src/services/deployments/store.pg.ts'
import { statValues } from '../src/services/deployments/store.stats.ts'
import { createDeploymentsStore, type DeploymentsStore } from '../src/services/deployments/store.ts'
import { startPostgres } from '../test/helpers/postgres.ts'

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '32' },
    polls: { type: 'string', default: '5000' },
  },
})
const DEVICES = Number(values.devices)
const CONCURRENCY = Number(values.concurrency)
const POLLS = Number(values.polls)
const parts = { clock: systemClock, ids: { uuid: () => crypto.randomUUID() } }
const artifact: ArtifactRow = {
  ...{ id: crypto.randomUUID(), tenantId: '', name: 'bench-1', description: '', deviceTypes: ['bench'] },
  ...{ info: { format: 'mender', version: 3 }, signed: false, updates: [], provides: null },
  ...{ depends: { device_type: ['bench'] }, clearsProvides: null, size: 1000, modified: new Date() },
}

function deployment(deviceIds: string[]): DeploymentRow {
  return {
    ...{ id: crypto.randomUUID(), tenantId: '', name: 'bench', artifactName: 'bench-1', created: new Date() },
    ...{ finished: null, status: 'pending', deviceCount: 0, maxDevices: deviceIds.length, allDevices: false },
    ...{ forceInstallation: false, artifacts: [artifact.id], groups: [], target: 'devices' },
    ...{ checksum: crypto.randomUUID(), totalSize: 0, type: 'software', configuration: null },
    ...statValues({ ...emptyStats(), pending: deviceIds.length }),
    ...{ phaseCount: 0, openPhases: 1, retries: 0, policy: null, pausedAt: null, pauseReason: null },
    ...{ gateTripped: false, dynamic: false, filter: null, initialDeviceCount: deviceIds.length },
  }
}

/** Runs `work(i)` for i < n, `CONCURRENCY` at a time; answers the seconds it took. */
async function timed(n: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await work(next++)
    }),
  )
  return (performance.now() - start) / 1000
}

/** One rollout through `stores` (device i's requests go to `stores[i % stores.length]`). */
async function rollout(stores: DeploymentsStore[]): Promise<{ writes: number; polls: number }> {
  const deviceIds = Array.from({ length: DEVICES }, (_, i) => `bench-${crypto.randomUUID()}-${i}`)
  const made = await stores[0]!.createDeployment(deployment(deviceIds), deviceIds, {
    phases: [],
    openFirst: true,
  })
  if (!made) throw new Error('not made')
  const seconds = await timed(DEVICES, async (i) => {
    const store = stores[i % stores.length]!
    const deviceId = deviceIds[i]!
    const next = await store.findNext('', deviceId)
    const picked = await store.pickUp({
      ...{ tenantId: '', deviceId, deploymentId: next!.deployment.id, seen: null, artifact, assigned: true },
      ...{ requestKey: '["factory","bench"]', runningArtifact: 'factory' },
    })
    if (picked.kind !== 'deploy') throw new Error(`picked up: ${picked.kind}`)
    for (const status of ['downloading', 'installing', 'success'] as const)
      await store.reportStatus('', deviceId, made.id, status)
  })
  const after = await stores[0]!.findDeployment('', made.id)
  if (after?.status !== 'finished' || after.statSuccess !== DEVICES)
    throw new Error('the rollout did not finish')
  // The poll of devices outside an active deployment: one more keeps the tenant busy.
  await stores[0]!.createDeployment(deployment(['elsewhere']), ['elsewhere'], { phases: [], openFirst: true })
  const pollSeconds = await timed(POLLS, (i) => stores[i % stores.length]!.findNext('', `idle-${i}`))
  return { writes: (DEVICES * 4) / seconds, polls: POLLS / pollSeconds }
}

const rows: [string, { writes: number; polls: number }][] = []
const dir = mkdtempSync(join(tmpdir(), 'bender-bench-'))
const sqlite = openDatabase(join(dir, 'bender.db'))
await runMigrations(sqlite)
rows.push(['SQLite', await rollout([createDeploymentsStore(sqlite, parts)])])
sqlite.$client.close()
rmSync(dir, { recursive: true, force: true })

const server = await startPostgres()
try {
  for (const pools of [1, 2]) {
    const url = await server.createDatabase()
    await runPgMigrations(url)
    const dbs = await Promise.all(Array.from({ length: pools }, () => openPgDatabase(url)))
    rows.push([
      `PostgreSQL, ${pools} pool${pools > 1 ? 's' : ''}`,
      await rollout(dbs.map((db) => createPgDeploymentsStore(db, parts))),
    ])
    for (const db of dbs) await db.$client.close()
  }
} finally {
  server.stop()
}
console.log(`${DEVICES} devices, ${CONCURRENCY} at a time, ${POLLS} polls`)
for (const [name, { writes, polls }] of rows)
  console.log(
    `${name.padEnd(22)} ${writes.toFixed(0).padStart(7)} status writes/s ${polls.toFixed(0).padStart(8)} polls/s`,
  )
