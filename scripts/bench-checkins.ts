#!/usr/bin/env bun
/**
 * The cost of writing check-ins, in-process, on a seeded data dir (scripts/seed.ts --tokens):
 *
 *   bun scripts/bench-checkins.ts --data-dir D [--checkins 20000] [--batch 500] [--rounds 3]
 *                                 [--baseline CHECKOUT --baseline-data-dir D2]
 *
 * Each round picks --checkins random accepted devices and writes their check-ins as the flush does
 * (deviceauth's write, then inventory's), --batch a transaction, and prints the time per check-in.
 * With --baseline, every round runs that checkout's code too, on its own copy of the data (the two
 * alternate round by round, each in a child process), so the figures come from one run.
 *
 * With --postgres N the rounds run on PostgreSQL instead: each on a new migrated database of the
 * test server (test/helpers/database.ts) holding N devices written through the inventory store,
 * each with 15 inventory attributes (deviceauth's rows are not made: its old batch update finds
 * none, which leaves its cost out).
 */
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: './data' },
    checkins: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    baseline: { type: 'string' },
    'baseline-data-dir': { type: 'string' },
    root: { type: 'string' },
    child: { type: 'boolean', default: false },
    postgres: { type: 'string' },
  },
})

/** One round in this process, with the code of checkout `root`: microseconds per check-in. */
async function child(root: string, dataDir: string): Promise<void> {
  if (args.postgres) return childPostgres(root, Number(args.postgres))
  const { loadConfig } = await import(`${root}/src/config.ts`)
  const { buildDeps, closeDeps } = await import(`${root}/src/deps.ts`)
  const { createInventoryService } = await import(`${root}/src/services/inventory/service.ts`)
  const { createRevocationCounter } = await import(`${root}/src/services/deviceauth/store.ts`)
  const config = loadConfig({ ...process.env, BENDER_DATA_DIR: dataDir, BENDER_LOG_LEVEL: 'warn' })
  const deps = await buildDeps(config)
  const deviceauth = deps.stores.deviceauth(createRevocationCounter())
  const inventory = createInventoryService(deps)
  const ids: string[] = (await deviceauth.listDevices('', { statuses: ['accepted'] }, 0, 1_000_000)).map(
    (d: { id: string }) => d.id,
  )
  const n = Number(args.checkins)
  const size = Number(args.batch)
  const batch = randomCheckIns(ids, n)
  let deviceauthMs = 0
  let inventoryMs = 0
  const cpu = process.cpuUsage()
  for (let i = 0; i < n; i += size) {
    const slice = batch.slice(i, i + size)
    const started = performance.now()
    if (typeof deviceauth.writeCheckIns === 'function') await deviceauth.writeCheckIns(slice)
    const between = performance.now()
    await inventory.writeCheckIns(slice)
    deviceauthMs += between - started
    inventoryMs += performance.now() - between
  }
  const used = process.cpuUsage(cpu)
  await closeDeps(deps)
  const us = (ms: number) => (ms * 1000) / n
  console.log(
    JSON.stringify({
      devices: ids.length,
      usPerCheckIn: us(deviceauthMs + inventoryMs),
      cpuUs: (used.user + used.system) / n,
      deviceauth: us(deviceauthMs),
      inventory: us(inventoryMs),
    }),
  )
}

type Result = { devices: number; usPerCheckIn: number; cpuUs: number; deviceauth: number; inventory: number }

/** Check-ins of `n` random devices of `ids`, a millisecond apart. */
function randomCheckIns(ids: readonly string[], n: number) {
  let state = Number(args.seed) >>> 0
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  const at = Date.now()
  return Array.from({ length: n }, (_, i) => ({
    tenantId: '',
    deviceId: ids[Math.floor(random() * ids.length)]!,
    at: new Date(at + i),
  }))
}

/** One round on PostgreSQL with the code of checkout `root`. */
async function childPostgres(root: string, devices: number): Promise<void> {
  const { openTestPgDatabase } = await import(`${root}/test/helpers/database.ts`)
  const { createPgInventoryStore } = await import(`${root}/src/services/inventory/store.pg.ts`)
  const { createPgDeviceauthStore } = await import(`${root}/src/services/deviceauth/store.pg.ts`)
  const { createRevocationCounter } = await import(`${root}/src/services/deviceauth/store.ts`)
  const { db, close } = await openTestPgDatabase()
  const inventory = createPgInventoryStore(db)
  const deviceauth = createPgDeviceauthStore(db, createRevocationCounter())
  const ids = Array.from({ length: devices }, (_, i) => `device-${i}`)
  const now = new Date()
  const attrs = Array.from({ length: 15 }, (_, k) => ({ name: `attr_${k}`, value: `value-${k}` }))
  for (let i = 0; i < ids.length; i += 16) {
    await Promise.all(
      ids.slice(i, i + 16).map(async (id) => {
        await inventory.writeIdentity('', id, [{ name: 'mac', value: id }], 1, now)
        await inventory.updateInventory('', id, attrs, { replace: true, now, max: 100 })
      }),
    )
  }
  const n = Number(args.checkins)
  const size = Number(args.batch)
  const batch = randomCheckIns(ids, n)
  let deviceauthMs = 0
  let inventoryMs = 0
  const cpu = process.cpuUsage()
  for (let i = 0; i < n; i += size) {
    const slice = batch.slice(i, i + size)
    const started = performance.now()
    if (typeof deviceauth.writeCheckIns === 'function') await deviceauth.writeCheckIns(slice)
    const between = performance.now()
    await inventory.writeCheckIns(slice)
    deviceauthMs += between - started
    inventoryMs += performance.now() - between
  }
  const used = process.cpuUsage(cpu)
  await close()
  const us = (ms: number) => (ms * 1000) / n
  console.log(
    JSON.stringify({
      devices: ids.length,
      usPerCheckIn: us(deviceauthMs + inventoryMs),
      cpuUs: (used.user + used.system) / n,
      deviceauth: us(deviceauthMs),
      inventory: us(inventoryMs),
    }),
  )
}

async function round(root: string, dataDir: string): Promise<Result> {
  const proc = Bun.spawn(
    [
      'nice',
      '-n',
      '19',
      'bun',
      import.meta.path,
      '--child',
      '--root',
      root,
      '--data-dir',
      dataDir,
      '--checkins',
      args.checkins!,
      '--batch',
      args.batch!,
      '--seed',
      args.seed!,
      ...(args.postgres ? ['--postgres', args.postgres] : []),
    ],
    { stdout: 'pipe', stderr: 'inherit', env: process.env },
  )
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`round failed for ${root}`)
  return JSON.parse(out.trim().split('\n').pop()!)
}

if (args.child) {
  await child(args.root!, args['data-dir']!)
  // The test PostgreSQL server's handles would keep the process alive.
  process.exit(0)
} else {
  const here = new URL('..', import.meta.url).pathname.replace(/\/$/, '')
  const runs: { name: string; root: string; dataDir: string; results: number[]; cpu: number[] }[] = [
    { name: 'this checkout', root: here, dataDir: args['data-dir']!, results: [], cpu: [] },
  ]
  if (args.baseline) {
    if (!args['baseline-data-dir'])
      throw new Error('--baseline needs --baseline-data-dir (a copy of the data)')
    runs.unshift({
      name: 'baseline',
      root: args.baseline,
      dataDir: args['baseline-data-dir'],
      results: [],
      cpu: [],
    })
  }
  for (let r = 0; r < Number(args.rounds); r++) {
    for (const run of runs) {
      const result = await round(run.root, run.dataDir)
      run.results.push(result.usPerCheckIn)
      run.cpu.push(result.cpuUs)
      console.log(
        `round ${r + 1} ${run.name}: ${result.usPerCheckIn.toFixed(1)} µs per check-in, CPU ${result.cpuUs.toFixed(1)} µs (deviceauth ${result.deviceauth.toFixed(1)}, inventory ${result.inventory.toFixed(1)}; ${result.devices} accepted devices)`,
      )
    }
  }
  for (const run of runs) {
    const median = (list: number[]) =>
      [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!.toFixed(1)
    console.log(`${run.name}: median ${median(run.results)} µs per check-in, CPU ${median(run.cpu)} µs`)
  }
}
