import { afterEach, expect, test } from 'bun:test'
import { createPgLeases, leaseKey } from '../../src/cluster/leases.pg.ts'
import type { Leases } from '../../src/cluster/leases.ts'
import { createLogger } from '../../src/log.ts'
import { openTestPgDatabase } from '../helpers/database.ts'

const log = createLogger('error')
const opened: Leases[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((leases) => leases.close()))
})

/** An instance's leases on its own connection, trying every 20 ms (by default) so the test runs quickly. */
function instance(url: string, retryMs = 20) {
  const leases = createPgLeases(url, { log, retryMs })
  opened.push(leases)
  const log_: string[] = []
  const run = (name: string) =>
    leases.run(name, () => {
      log_.push('start')
      return () => void log_.push('stop')
    })
  return { leases, run, events: log_ }
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await Bun.sleep(10)
}

/** The server process holding the advisory lock of job `name`, if any. */
async function holderPid(db: Awaited<ReturnType<typeof openTestPgDatabase>>['db'], name: string) {
  const rows = await db.$client`
    SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = ${leaseKey(name) >>> 0}`
  return rows[0]?.pid as number | undefined
}

test('of two instances exactly one runs a job; ending it there hands it to the other', async () => {
  const { url, close } = await openTestPgDatabase()
  try {
    const a = instance(url)
    const b = instance(url)
    const endA = a.run('rollouts')
    await until(() => a.leases.holds('rollouts'))
    b.run('rollouts')
    // b has tried several times meanwhile and was refused each time.
    await Bun.sleep(200)
    expect(b.leases.holds('rollouts')).toBe(false)
    expect(b.events).toEqual([])
    await endA()
    expect(a.events).toEqual(['start', 'stop'])
    await until(() => b.leases.holds('rollouts'))
    expect(b.events).toEqual(['start'])
  } finally {
    await close()
  }
})

test('different jobs are leased independently, to whichever instance asks first', async () => {
  const { url, close } = await openTestPgDatabase()
  try {
    const a = instance(url)
    const b = instance(url)
    a.run('retention')
    await until(() => a.leases.holds('retention'))
    b.run('webhooks')
    await until(() => b.leases.holds('webhooks'))
    expect(a.leases.holds('webhooks')).toBe(false)
    expect(b.leases.holds('retention')).toBe(false)
  } finally {
    await close()
  }
})

test('when the holder’s database connection dies, the other instance takes the job over and the holder stops it', async () => {
  const { db, url, close } = await openTestPgDatabase()
  try {
    // a looks less often than b, so b is first to try once a's connection is gone.
    const a = instance(url, 300)
    const b = instance(url)
    a.run('retention')
    await until(() => a.leases.holds('retention'))
    b.run('retention')
    const pid = await holderPid(db, 'retention')
    expect(pid).toBeNumber()
    // What a crashed host looks like to the server: the connection is gone.
    await db.$client`SELECT pg_terminate_backend(${pid}::int)`
    await until(() => b.leases.holds('retention'))
    await until(() => a.events.length === 2)
    expect(a.events).toEqual(['start', 'stop'])
    expect(b.events).toEqual(['start'])
    expect(await holderPid(db, 'retention')).not.toBe(pid)
  } finally {
    await close()
  }
})

test('a closed instance gives its leases up: the other runs its jobs', async () => {
  const { url, close } = await openTestPgDatabase()
  try {
    const a = instance(url)
    const b = instance(url)
    a.run('events.prune')
    await until(() => a.leases.holds('events.prune'))
    b.run('events.prune')
    await a.leases.close()
    expect(a.events).toEqual(['start', 'stop'])
    await until(() => b.leases.holds('events.prune'))
  } finally {
    await close()
  }
})

test('a job name is run once per instance', async () => {
  const { url, close } = await openTestPgDatabase()
  try {
    const a = instance(url)
    a.run('x')
    expect(() => a.run('x')).toThrow('started twice')
  } finally {
    await close()
  }
})
