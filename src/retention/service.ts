import type { Deps } from '../deps.ts'
import type { PurgeCursor, RetentionStore } from './store.ts'

/** Small enough that one batch is a short transaction; the pause between batches lets requests through. */
const BATCH = 500
const PAUSE_MS = 20
const FIRST_PASS_AFTER_MS = 60_000
const PASS_EVERY_MS = 3600_000

export type PurgeTotals = { rows: number; logs: number }

/** Purges device-deployment history and logs older than BENDER_RETENTION_DAYS in the background. */
export interface RetentionService {
  /** One whole pass now, in batches with a pause between them; resolves with what it removed. */
  purgeNow(): Promise<PurgeTotals>
  /** Schedules passes: the first a minute after start (never during start-up), then hourly. Nothing when retention is off. */
  start(): void
  /** Cancels the schedule; a pass under way stops after its current batch. */
  stop(): void
}

export function createRetentionService(
  deps: Pick<Deps, 'config' | 'clock' | 'log'>,
  store: RetentionStore,
): RetentionService {
  const { config, clock, log } = deps
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  async function purgeNow(): Promise<PurgeTotals> {
    const totals = { rows: 0, logs: 0 }
    if (config.retentionDays === 0) return totals
    const cutoff = clock.now().getTime() - config.retentionDays * 86_400_000
    let cursor: PurgeCursor = { finished: -1, seq: -1 }
    for (;;) {
      const batch = await store.purgeBatch(cutoff, cursor, BATCH)
      totals.rows += batch.rowsDeleted
      totals.logs += batch.logsDeleted
      cursor = batch.next
      if (batch.visited < BATCH || stopped) return totals
      await Bun.sleep(PAUSE_MS)
    }
  }

  async function pass(): Promise<void> {
    try {
      const totals = await purgeNow()
      if (totals.rows > 0 || totals.logs > 0) {
        log.info('purged old deployment history', {
          device_deployments: totals.rows,
          logs: totals.logs,
          older_than_days: config.retentionDays,
        })
      }
    } catch (err) {
      log.error('purging old deployment history failed; will retry', { err })
    }
    if (!stopped) timer = setTimeout(pass, PASS_EVERY_MS)
  }

  return {
    purgeNow,
    start() {
      if (config.retentionDays === 0) return
      stopped = false
      timer = setTimeout(pass, FIRST_PASS_AFTER_MS)
      timer.unref?.()
    },
    stop() {
      stopped = true
      clearTimeout(timer)
    },
  }
}
