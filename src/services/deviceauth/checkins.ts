/** One device's latest check-in, waiting to be written. */
export type CheckIn = { tenantId: string; deviceId: string; at: Date }

/**
 * What one slice of a flush may hold the thread answering devices: the slice's size follows the
 * measured cost of the last one (a check-in costs ~0.05 ms on a small idle database, ten times
 * that on a large busy one), so a fixed count would stall for hundreds of milliseconds.
 */
const SLICE_BUDGET_MS = 4
/** Bounds of a slice's size: one transaction per check-in at worst, a large batch when cheap. */
const MAX_SLICE = 2000

/**
 * The next slice's size after a slice of `size` wrote `wrote` check-ins in `ms`: as many as
 * `budgetMs` holds at that cost per check-in, at most double `size` (a cheap slice may have been a
 * lucky one), within 1..`max`.
 */
export function nextSliceSize(
  size: number,
  wrote: number,
  ms: number,
  budgetMs: number,
  max: number,
): number {
  const fits = wrote > 0 && ms > 0 ? Math.floor((budgetMs * wrote) / ms) : max
  return Math.max(1, Math.min(max, 2 * size, fits))
}

/**
 * A device's check-in time moves on every device request, the hottest path there is, so it is not
 * written there: the latest time per device waits in memory and is written in batches every
 * `intervalMs` (and on stop). A request costs a map write; a fleet of a million devices polling
 * every 30 minutes costs one small transaction per batch instead of 550 single writes a second.
 * Reads see a check-in at most one interval late.
 */
export interface CheckInBuffer {
  /** Keeps the device's latest check-in until the next flush. */
  record(tenantId: string, deviceId: string, at: Date): void
  /** How many devices have a check-in waiting. */
  readonly size: number
  /** Writes up to `limit` waiting check-ins; answers how many. */
  flush(limit?: number): Promise<number>
  /** Starts the periodic flush; `onError` hears about a failed batch (it stays pending). */
  start(onError: (err: unknown) => void): void
  /** Stops the timer and writes everything still pending. */
  stop(): Promise<void>
}

export function createCheckInBuffer(
  write: (batch: CheckIn[]) => Promise<void>,
  intervalMs: number,
): CheckInBuffer {
  const pending = new Map<string, CheckIn>()
  let flushing = false

  /** Writes up to `limit` pending check-ins; returns how many it wrote. */
  async function flush(limit = Number.POSITIVE_INFINITY): Promise<number> {
    if (pending.size === 0) return 0
    const batch: CheckIn[] = []
    for (const [key, checkIn] of pending) {
      if (batch.length >= limit) break
      batch.push(checkIn)
      pending.delete(key)
    }
    try {
      const t0 = performance.now()
      await write(batch)
      const ms = performance.now() - t0
      if (process.env.FLEET_TRACE) console.error(`TRACE checkin-flush ${batch.length} ${ms.toFixed(1)}`)
    } catch (err) {
      // Put them back (unless the device checked in again meanwhile) so the next flush retries.
      for (const checkIn of batch) {
        const key = `${checkIn.tenantId}\u0000${checkIn.deviceId}`
        if (!pending.has(key)) pending.set(key, checkIn)
      }
      throw err
    }
    return batch.length
  }

  let sliceSize = 64
  /** Writes what is pending in slices of about SLICE_BUDGET_MS, letting requests in between. */
  async function flushInSlices(): Promise<void> {
    if (flushing) return
    flushing = true
    try {
      for (;;) {
        const size = sliceSize
        const started = performance.now()
        const wrote = await flush(size)
        sliceSize = nextSliceSize(size, wrote, performance.now() - started, SLICE_BUDGET_MS, MAX_SLICE)
        if (wrote < size) break
        await new Promise((resolve) => setImmediate(resolve))
      }
    } finally {
      flushing = false
    }
  }

  let timer: ReturnType<typeof setInterval> | undefined

  return {
    record(tenantId: string, deviceId: string, at: Date): void {
      const key = `${tenantId}\u0000${deviceId}`
      // Re-inserting keeps the map in check-in order, so a sliced flush writes the oldest first.
      pending.delete(key)
      pending.set(key, { tenantId, deviceId, at })
    },
    get size() {
      return pending.size
    },
    flush,
    start(onError: (err: unknown) => void): void {
      timer ??= setInterval(() => flushInSlices().catch(onError), intervalMs)
      timer.unref()
    },
    async stop(): Promise<void> {
      clearInterval(timer)
      timer = undefined
      await flush()
    },
  }
}
