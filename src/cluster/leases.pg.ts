import { SQL } from 'bun'
import type { Logger } from '../log.ts'
import { type Leases, requireUnique, type StopJob } from './leases.ts'

/** How often a lease not held is tried again, and the connection holding the others checked. */
export const LEASE_RETRY_MS = 2000
/**
 * The first key of every lease's two-key advisory lock ("bndr" in ASCII): the second is a hash of
 * the job's name. The one-key (bigint) locks of migrations and the outbox never collide with it.
 */
export const LEASE_CLASS = 0x626e6472
/**
 * The server's TCP keepalive on the leases' connection: an instance whose host vanished (no FIN
 * ever comes) is declared dead after about idle + interval × count seconds, and its leases freed.
 */
const KEEPALIVE = { idle: 10, interval: 5, count: 3 }

/** A 32-bit FNV-1a hash of the job name, as a signed int4 (what the advisory lock takes). */
export function leaseKey(name: string): number {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(name)) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash | 0
}

type Job = { name: string; key: number; start: () => StopJob; stop?: StopJob; ended: boolean }

/**
 * Leases as PostgreSQL session advisory locks, all held on one connection of their own: a job
 * runs while its lock is held, and the lock goes when that connection ends, however it ends
 * (stop, crash, `kill -9`; a vanished host after the keepalive above). Locks not held are tried
 * again every `retryMs`, so a job moves to another instance within about that long after its
 * holder's connection is gone. Each round also checks the connection: when a query fails or the
 * server's process behind it changed (the pool reconnected), every lock it held is gone, so every
 * job here stops before the locks are tried again.
 */
export function createPgLeases(url: string, options: { log: Logger; retryMs?: number }): Leases {
  const { log, retryMs = LEASE_RETRY_MS } = options
  const client = new SQL({ url, max: 1, idleTimeout: 0, maxLifetime: 0 })
  const jobs = new Map<string, Job>()
  let backendPid: number | undefined
  let closed = false

  async function stopJob(job: Job): Promise<void> {
    const stop = job.stop
    job.stop = undefined
    if (!stop) return
    try {
      await stop()
    } catch (err) {
      log.error('stopping a background job failed', { job: job.name, err })
    }
  }

  async function loseAll(reason: string): Promise<void> {
    backendPid = undefined
    const lost = [...jobs.values()].filter((job) => job.stop)
    if (lost.length > 0)
      log.warn('lost the database connection holding leases', { reason, jobs: lost.length })
    await Promise.all(lost.map(stopJob))
  }

  /** The server process of the connection, after setting its keepalive when it is a new one. */
  async function connection(): Promise<number> {
    const [row] = await client`SELECT pg_backend_pid() AS pid`
    const pid = Number(row.pid)
    if (backendPid !== undefined && pid !== backendPid) await loseAll('reconnected')
    if (backendPid !== pid) {
      await client.unsafe(
        `SET tcp_keepalives_idle = ${KEEPALIVE.idle}; SET tcp_keepalives_interval = ${KEEPALIVE.interval}; SET tcp_keepalives_count = ${KEEPALIVE.count}`,
      )
      backendPid = pid
    }
    return pid
  }

  async function tryLock(job: Job): Promise<void> {
    const [row] = await client`SELECT pg_try_advisory_lock(${LEASE_CLASS}::int4, ${job.key}::int4) AS ok`
    if (!row.ok || job.ended || closed) {
      if (row.ok) await unlock(job)
      return
    }
    log.info('took a lease: this instance runs the job now', { job: job.name })
    try {
      job.stop = job.start()
    } catch (err) {
      log.error('starting a background job failed', { job: job.name, err })
      await unlock(job)
    }
  }

  async function unlock(job: Job): Promise<void> {
    await client`SELECT pg_advisory_unlock(${LEASE_CLASS}::int4, ${job.key}::int4)`
  }

  let round: Promise<void> = Promise.resolve()
  async function tick(): Promise<void> {
    if (closed) return
    try {
      await connection()
      for (const job of jobs.values()) if (!job.stop && !job.ended) await tryLock(job)
    } catch (err) {
      await loseAll(err instanceof Error ? err.message : String(err))
    }
  }
  // One round at a time; a round asked for during one runs after it.
  const runRound = () => {
    round = round.then(tick)
    return round
  }
  const timer = setInterval(() => void runRound(), retryMs)
  timer.unref()

  return {
    run(name, start) {
      requireUnique(jobs, name)
      const job: Job = { name, key: leaseKey(name), start, ended: false }
      jobs.set(name, job)
      void runRound()
      return async () => {
        if (job.ended) return
        job.ended = true
        jobs.delete(name)
        const held = job.stop !== undefined
        await stopJob(job)
        // In turn with the rounds, so an unlock never races a lock of the same job.
        if (!held) return
        round = round.then(() => unlock(job).catch(() => undefined))
        await round
      }
    },
    holds: (name) => jobs.get(name)?.stop !== undefined,
    async close() {
      clearInterval(timer)
      closed = true
      await round
      for (const job of jobs.values()) job.ended = true
      await Promise.all([...jobs.values()].map(stopJob))
      jobs.clear()
      // Ending the connection releases every lock it held.
      await client.close({ timeout: 1 })
    },
  }
}
