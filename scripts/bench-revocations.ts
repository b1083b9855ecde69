#!/usr/bin/env bun
/**
 * What a device request pays on PostgreSQL for refusing, at once, a token another instance took
 * away (see the README's Decisions): the gateway's device check (cached token) over the PostgreSQL
 * deviceauth store, on a throwaway server this script starts, three ways in the same run:
 *   - local:  the in-process revocation count alone (what one SQLite process does; it would miss
 *             other instances' revocations);
 *   - shared: the count read from PostgreSQL before each check, reads shared by concurrent checks
 *             (what bender does on PostgreSQL);
 *   - naive:  the same read, one per check.
 * Beside them, a bare primary-key read through the same pool (what any query of a poll costs).
 *
 *   bun scripts/bench.ts revocations [--devices 1000] [--seconds 3] [--concurrency 1,64] [--rounds 3]
 *
 * Prints checks a second, p50 latency and reads of the count sent a check (concurrent checks that
 * share a read get the same promise back: distinct promises are reads).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { eq, sql } from 'drizzle-orm'
import { runPgMigrations } from '../db/migrate.pg.ts'
import { openPgDatabase, type PgDatabase } from '../db/pg.ts'
import { loadConfig } from '../src/config.ts'
import { createAuthResolver } from '../src/gateway/auth.ts'
import { createDeviceAuthenticator } from '../src/services/deviceauth/authenticator.ts'
import { createCheckInBuffer } from '../src/services/deviceauth/checkins.ts'
import { withSharedRevocations } from '../src/services/deviceauth/revocations.ts'
import { isAllowedTransition } from '../src/services/deviceauth/status.ts'
import { createPgDeviceauthStore } from '../src/services/deviceauth/store.pg.ts'
import { createRevocationCounter, type RevocationCounter } from '../src/services/deviceauth/store.ts'
import { revocations as sharedCount } from '../src/services/deviceauth/tables.pg.ts'
import { createTokens } from '../src/tokens.ts'
import { startPostgres } from '../test/helpers/postgres.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    devices: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,64' },
    rounds: { type: 'string', default: '3' },
  },
})
const DEVICES = Number(values.devices)
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const clock = { now: () => new Date() }

async function seed(db: PgDatabase, dataDir: string): Promise<string[]> {
  const store = createPgDeviceauthStore(db, createRevocationCounter())
  const tokens = createTokens(loadConfig({ BENDER_DATA_DIR: dataDir }), clock)
  const context = () => ({ now: new Date(), newId: () => crypto.randomUUID(), maxAccepted: 0 })
  const request = () => ({ ...context(), maxPending: 10, expires: new Date(Date.now() + 86_400_000) })
  const signed: string[] = []
  for (let i = 0; i < DEVICES; i++) {
    const key = { hash: `h${i}`, normalised: `{"mac":"${i}"}`, pem: `k${i}` }
    const made = await store.recordAuthRequest('', key, request())
    if (made.kind !== 'new-device') throw new Error(made.kind)
    const [set] = await store.listAuthSets('', [made.device.id])
    await store.setAuthSetStatus('', made.device.id, set!.id, 'accepted', {
      ...context(),
      allowed: isAllowedTransition,
    })
    await store.recordAuthRequest('', key, request())
    const claims = { sub: made.device.id, jti: set!.id, iss: 'Mender', 'mender.device': true }
    signed.push(await tokens.sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 86_400 }))
  }
  return signed
}

/** The gateway's device check over a fresh store on `db`, its count synced the way `mode` says. */
function deviceCheck(db: PgDatabase, dataDir: string, mode: 'local' | 'shared' | 'naive') {
  const revocations: RevocationCounter = createRevocationCounter()
  const store = createPgDeviceauthStore(db, revocations)
  if (mode === 'local') delete revocations.sync
  if (mode === 'naive') {
    const read = db.select({ value: sharedCount.value }).from(sharedCount).where(eq(sharedCount.id, 1))
    revocations.sync = async () => {
      const [row] = await read
      revocations.value = Math.max(revocations.value, row?.value ?? 0)
    }
  }
  const tokens = createTokens(loadConfig({ BENDER_DATA_DIR: dataDir }), clock)
  const reads = new WeakSet<Promise<void>>()
  const counted = { reads: 0 }
  const sync = revocations.sync
  if (sync) {
    revocations.sync = () => {
      const read = sync()
      if (!reads.has(read)) {
        reads.add(read)
        counted.reads++
      }
      return read
    }
  }
  const checkIns = createCheckInBuffer(async () => {}, 3_600_000)
  const guard = withSharedRevocations(
    createDeviceAuthenticator({ store, revocations, tokens, clock, checkIns, cacheBytes: 16 * 1024 * 1024 }),
    revocations,
  )
  return { resolver: createAuthResolver(guard, 'DeviceJWT', DEVICES * 2, () => Date.now()), counted }
}

async function measure(concurrency: number, op: () => unknown, reads: () => number) {
  const latencies: number[] = []
  const before = reads()
  const end = performance.now() + SECONDS * 1000
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now()
      await op()
      latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  latencies.sort((a, b) => a - b)
  const p50 = latencies[Math.floor(latencies.length / 2)]!
  return { perSecond: latencies.length / SECONDS, p50, perCheck: (reads() - before) / latencies.length }
}

const server = await startPostgres()
const dataDir = mkdtempSync(join(tmpdir(), 'bender-bench-revocations-'))
try {
  const url = await server.createDatabase()
  await runPgMigrations(url)
  const db = await openPgDatabase(url, { max: 10 })
  console.log(`seeding ${DEVICES} accepted devices with tokens...`)
  const signed = await seed(db, dataDir)
  const pick = () => signed[Math.floor(Math.random() * signed.length)]!
  const bare = db
    .select({ value: sharedCount.value })
    .from(sharedCount)
    .where(eq(sharedCount.id, sql.placeholder('id')))
    .prepare('bench_bare_read')
  for (const concurrency of values.concurrency.split(',').map(Number)) {
    const modes = ['local', 'shared', 'naive'] as const
    const results: Record<string, { perSecond: number; p50: number; perCheck: number }[]> = {
      local: [],
      shared: [],
      naive: [],
      bare: [],
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse()
      for (const mode of order) {
        const { resolver, counted } = deviceCheck(db, dataDir, mode)
        for (const token of signed) await resolver.resolve(token)
        const check = () => resolver.resolve(pick())
        results[mode]!.push(await measure(concurrency, check, () => counted.reads))
      }
      let bareReads = 0
      const read = () => bare.execute({ id: 1 }).then(() => bareReads++)
      results.bare!.push(await measure(concurrency, read, () => bareReads))
    }
    console.log(`\nconcurrency ${concurrency} (medians of ${ROUNDS} rounds of ${SECONDS} s)`)
    for (const [mode, runs] of Object.entries(results)) {
      const median = (pick: (r: (typeof runs)[number]) => number) =>
        runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!
      console.log(
        `  ${mode.padEnd(7)} ${median((r) => r.perSecond)
          .toFixed(0)
          .padStart(9)}/s` +
          `  p50 ${(median((r) => r.p50) * 1000).toFixed(0).padStart(6)} µs` +
          `  reads a check ${median((r) => r.perCheck).toFixed(3)}`,
      )
    }
  }
  await db.$client.close()
} finally {
  rmSync(dataDir, { recursive: true, force: true })
  server.stop()
}
