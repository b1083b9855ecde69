#!/usr/bin/env bun
/**
 * Which PostgreSQL client bender uses (it took the faster: see the README's Decisions): Drizzle over Bun's built-in SQL client (`drizzle-orm/bun-sql`)
 * against Drizzle over the `postgres` driver (`drizzle-orm/postgres-js`), on the same throwaway
 * server (Debian's PostgreSQL on loopback, started by this script), in the same run.
 *
 *   bun scripts/bench-postgres.ts [--seconds 3] [--concurrency 16] [--rounds 5]
 *
 * Two workloads, each driven by --concurrency loops for --seconds, clients alternating over
 * --rounds (the order flipping each round) so that neither always runs on a warmer server:
 *   - read: a prepared single-row select by primary key (a device's token lookup);
 *   - write: a small transaction, an insert and an update of a counter (a status report).
 * Prints operations a second and the p50 latency of each.
 */
import { parseArgs } from 'node:util'
import { SQL } from 'bun'
import { eq, sql } from 'drizzle-orm'
import { drizzle as bunSqlDrizzle } from 'drizzle-orm/bun-sql'
import { bigint, pgTable, text } from 'drizzle-orm/pg-core'
import { drizzle as postgresJsDrizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { startPostgres } from '../test/helpers/postgres.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '5' },
  },
})
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const ROUNDS = Number(values.rounds)
const ROWS = 10_000

const tokens = pgTable('bench_tokens', {
  id: text().primaryKey(),
  device: text().notNull(),
  n: bigint({ mode: 'number' }).notNull(),
})
const reports = pgTable('bench_reports', { id: text().primaryKey(), device: text().notNull() })

type Db = ReturnType<typeof bunSqlDrizzle> | ReturnType<typeof postgresJsDrizzle>

async function measure(op: () => Promise<unknown>): Promise<{ perSecond: number; p50: number }> {
  const latencies: number[] = []
  const end = performance.now() + SECONDS * 1000
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now()
      await op()
      latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, loop))
  latencies.sort((a, b) => a - b)
  return { perSecond: latencies.length / SECONDS, p50: latencies[Math.floor(latencies.length / 2)]! }
}

function workloads(db: Db) {
  const read = db
    .select()
    .from(tokens)
    .where(eq(tokens.id, sql.placeholder('id')))
    .prepare('bench_read')
  let written = 0
  return {
    read: () => read.execute({ id: `t${Math.floor(Math.random() * ROWS)}` }),
    write: () =>
      (db as ReturnType<typeof bunSqlDrizzle>).transaction(async (tx) => {
        const id = `r${process.pid}-${written++}-${Math.random()}`
        await tx.insert(reports).values({ id, device: 'd' })
        await tx
          .update(tokens)
          .set({ n: sql`${tokens.n} + 1` })
          .where(eq(tokens.id, `t${Math.floor(Math.random() * ROWS)}`))
      }),
  }
}

const server = await startPostgres()
const url = await server.createDatabase()
const setup = new SQL(url)
await setup.unsafe(`CREATE TABLE bench_tokens (id text PRIMARY KEY, device text NOT NULL, n bigint NOT NULL);
  CREATE TABLE bench_reports (id text PRIMARY KEY, device text NOT NULL);
  INSERT INTO bench_tokens SELECT 't' || i, 'd' || i, 0 FROM generate_series(0, ${ROWS - 1}) i;`)
await setup.close()

const clients: Record<string, () => { db: Db; close(): Promise<void> }> = {
  'bun-sql (Bun.SQL)': () => {
    const client = new SQL(url, { max: CONCURRENCY })
    return { db: bunSqlDrizzle({ client }), close: () => client.close() }
  },
  'postgres-js (postgres)': () => {
    const client = postgres(url, { max: CONCURRENCY })
    return { db: postgresJsDrizzle({ client }), close: () => client.end() }
  },
}

const results: Record<string, Record<string, { perSecond: number; p50: number }[]>> = {}
for (let round = 0; round < ROUNDS; round++) {
  // Alternating which client goes first, so neither always meets a warmer server.
  const order = Object.entries(clients)
  if (round % 2 === 1) order.reverse()
  for (const [name, open] of order) {
    const { db, close } = open()
    const work = workloads(db)
    for (const kind of ['read', 'write'] as const) {
      await measure(work[kind]) // warm-up pass, not counted
      const got = await measure(work[kind])
      const byKind = results[name] ?? {}
      results[name] = byKind
      byKind[kind] = [...(byKind[kind] ?? []), got]
      console.log(
        `round ${round + 1} ${name} ${kind}: ${got.perSecond.toFixed(0)}/s p50 ${got.p50.toFixed(2)} ms`,
      )
    }
    await close()
  }
}
server.stop()

console.log(
  `PostgreSQL on loopback, ${CONCURRENCY} concurrent loops, ${SECONDS} s per measure, median of ${ROUNDS} rounds`,
)
console.log('client                    read/s   read p50   write/s  write p50')
for (const [name, kinds] of Object.entries(results)) {
  // The median round: the machine's noise moves single rounds by whole factors.
  const median = (kind: string) => {
    const sorted = [...kinds[kind]!].sort((a, b) => a.perSecond - b.perSecond)
    return sorted[Math.floor(sorted.length / 2)]!
  }
  const r = median('read')
  const w = median('write')
  console.log(
    `${name.padEnd(24)} ${r.perSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(2).padStart(8)}ms ${w.perSecond.toFixed(0).padStart(8)} ${w.p50.toFixed(2).padStart(8)}ms`,
  )
}
// The drivers' pools may keep the event loop alive after closing.
process.exit(0)
