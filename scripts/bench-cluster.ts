#!/usr/bin/env bun
/**
 * What running several instances costs, on a throwaway PostgreSQL on loopback (Debian's, started
 * here), two "instances" being two pools in this process:
 *   - relay: a message's round trip between two instances through LISTEN/NOTIFY (what a terminal
 *     keystroke and its echo add when the user and the device are on different instances), beside
 *     a bare `SELECT 1` round trip in the same run; then one-way throughput of 4 KiB messages (a
 *     file transfer's chunks) and of 100-byte ones;
 *   - leases: how long a job takes to move to another instance after its holder (a process of its
 *     own) is killed with SIGKILL, with the default retry period;
 *   - throttle: a login attempt's check-and-count on PostgreSQL beside the in-memory one.
 *
 *   bun scripts/bench-cluster.ts [--messages 2000] [--takeovers 5]
 */
import { parseArgs } from 'node:util'
import { runPgMigrations } from '../db/migrate.pg.ts'
import { openPgDatabase } from '../db/pg.ts'
import { createPgLeases, LEASE_RETRY_MS } from '../src/cluster/leases.pg.ts'
import { createPgRelay } from '../src/cluster/relay.pg.ts'
import { createLogger } from '../src/log.ts'
import { createPgThrottleStore } from '../src/services/useradm/throttle.pg.ts'
import { createMemoryThrottleStore, type ThrottleStore } from '../src/services/useradm/throttle.ts'
import { startPostgres } from '../test/helpers/postgres.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { messages: { type: 'string', default: '2000' }, takeovers: { type: 'string', default: '5' } },
})
const MESSAGES = Number(values.messages)
const TAKEOVERS = Number(values.takeovers)
const log = createLogger('error')

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!
const ms = (x: number) => `${x.toFixed(2)} ms`

const server = await startPostgres()
const url = await server.createDatabase()
await runPgMigrations(url)
const dbA = await openPgDatabase(url)
const dbB = await openPgDatabase(url)

async function relay(): Promise<void> {
  const a = await createPgRelay(dbA, log)
  const b = await createPgRelay(dbB, log)
  // b echoes everything back: a round trip is a's send to a's receipt.
  b.onMessage((from, m) => b.send(from, m))
  let waiting: (() => void) | undefined
  let received = 0
  a.onMessage(() => {
    received++
    waiting?.()
  })
  const rtt: number[] = []
  const ping = new Uint8Array(100)
  for (let i = 0; i < 300; i++) {
    const done = new Promise<void>((resolve) => (waiting = resolve))
    const t0 = performance.now()
    a.send(b.instanceId, ping)
    await done
    rtt.push(performance.now() - t0)
  }
  const bare: number[] = []
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now()
    await dbA.$client`SELECT 1`
    bare.push(performance.now() - t0)
  }
  console.log(
    `relay round trip (100 B there and back): p50 ${ms(percentile(rtt, 0.5))}, p99 ${ms(percentile(rtt, 0.99))}`,
  )
  console.log(
    `bare SELECT 1 round trip, same run:       p50 ${ms(percentile(bare, 0.5))}, p99 ${ms(percentile(bare, 0.99))}`,
  )

  let sink = 0
  b.onMessage(() => void sink++)
  for (const size of [4096, 100]) {
    const before = sink
    const payload = new Uint8Array(size)
    const t0 = performance.now()
    for (let i = 0; i < MESSAGES; i++) b.send(a.instanceId, payload) // a echoes nothing back
    for (let i = 0; i < MESSAGES; i++) a.send(b.instanceId, payload)
    while (sink - before < MESSAGES) await Bun.sleep(1)
    const seconds = (performance.now() - t0) / 1000
    console.log(
      `relay one way, ${MESSAGES} × ${size} B: ${Math.round(MESSAGES / seconds)} messages/s, ${((MESSAGES * size) / seconds / 1e6).toFixed(2)} MB/s`,
    )
  }
  void received
  await a.close()
  await b.close()
}

/** A holder in a process of its own, so that it can die as a crashed instance does. */
async function holderProcess(name: string) {
  const code = `
    const { createPgLeases } = await import(${JSON.stringify(`${import.meta.dir}/../src/cluster/leases.pg.ts`)})
    const { createLogger } = await import(${JSON.stringify(`${import.meta.dir}/../src/log.ts`)})
    createPgLeases(${JSON.stringify(url)}, { log: createLogger('error') }).run(${JSON.stringify(name)}, () => {
      console.log('held')
      return () => {}
    })
    setInterval(() => {}, 1000)`
  const child = Bun.spawn([process.execPath, '-e', code], { stdout: 'pipe', stderr: 'inherit' })
  const reader = child.stdout.getReader()
  const { value } = await reader.read()
  if (!new TextDecoder().decode(value).includes('held'))
    throw new Error('the holder process did not take the lease')
  return child
}

async function takeover(): Promise<void> {
  const times: number[] = []
  for (let i = 0; i < TAKEOVERS; i++) {
    const name = `bench-${i}`
    const holder = await holderProcess(name)
    const b = createPgLeases(url, { log })
    let startedAt = 0
    const taken = new Promise<void>((resolve) =>
      b.run(name, () => {
        startedAt = performance.now()
        resolve()
        return () => {}
      }),
    )
    // Let b try and fail at least once, then die at a random point of its retry period.
    await Bun.sleep(LEASE_RETRY_MS * (1 + Math.random()))
    if (b.holds(name)) throw new Error('the lease was taken while its holder lived')
    const t0 = performance.now()
    holder.kill('SIGKILL')
    await taken
    times.push(startedAt - t0)
    await b.close()
  }
  console.log(
    `lease takeover after kill -9 of its holder (retry every ${LEASE_RETRY_MS} ms, ${TAKEOVERS} runs): median ${ms(percentile(times, 0.5))}, max ${ms(Math.max(...times))}`,
  )
}

async function throttle(): Promise<void> {
  const time = async (store: ThrottleStore) => {
    const xs: number[] = []
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now()
      await store.take(
        [
          { key: `k${i % 50}`, freeFailures: 1000 },
          { key: 'address', freeFailures: 100_000 },
        ],
        Date.now(),
      )
      xs.push(performance.now() - t0)
    }
    return percentile(xs, 0.5)
  }
  console.log(
    `login throttle check-and-count: PostgreSQL p50 ${ms(await time(createPgThrottleStore(dbA)))}, memory p50 ${ms(await time(createMemoryThrottleStore()))}`,
  )
}

try {
  await relay()
  await takeover()
  await throttle()
} finally {
  await dbA.$client.close()
  await dbB.$client.close()
  server.stop()
}
