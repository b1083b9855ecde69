import { createSlicer } from '../../slices.ts'

/** One device's latest check-in, waiting to be written. */
export type CheckIn = { tenantId: string; deviceId: string; at: Date }

/** Bounds of a slice's size: one transaction per check-in at worst, a large batch when cheap. */
const MAX_SLICE = 2000

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
      await write(batch)
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

  const slicer = createSlicer(MAX_SLICE)
  /** Writes what is pending in slices (see slices.ts), letting requests in between. */
  async function flushInSlices(): Promise<void> {
    if (flushing) return
    flushing = true
    try {
      await slicer.run(flush)
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
