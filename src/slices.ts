/*
 * Bulk work on the thread that answers requests (writing buffered check-ins, reindexing devices'
 * free text) in slices, each sized to hold that thread for about `budgetMs` at the cost the last
 * slice measured: a unit of work costs ten times more on a large busy database than on a small
 * idle one, so a fixed count would stall for hundreds of milliseconds. Between slices the event
 * loop runs whatever requests arrived.
 */

/** What one slice may hold the thread answering devices. */
export const SLICE_BUDGET_MS = 4

/**
 * The next slice's size after a slice of `size` did `done` units in `ms`: as many as `budgetMs`
 * holds at that cost per unit, at most double `size` (a cheap slice may have been a lucky one),
 * within 1..`max`.
 */
export function nextSliceSize(size: number, done: number, ms: number, budgetMs: number, max: number): number {
  const fits = done > 0 && ms > 0 ? Math.floor((budgetMs * done) / ms) : max
  return Math.max(1, Math.min(max, 2 * size, fits))
}

export type Slicer = {
  /**
   * Runs `slice(size)` (which does up to `size` units at once and answers how many it did) until
   * a slice does fewer than asked or `limit` units are done; answers how many were done.
   */
  run(slice: (size: number) => Promise<number>, limit?: number): Promise<number>
}

/** A slicer remembering the size its last slice measured; `max` bounds a slice (a large batch when cheap). */
export function createSlicer(max: number, budgetMs = SLICE_BUDGET_MS): Slicer {
  let sliceSize = Math.min(64, max)
  return {
    async run(slice, limit = Number.POSITIVE_INFINITY) {
      let total = 0
      while (total < limit) {
        const size = Math.min(sliceSize, limit - total)
        const started = performance.now()
        const done = await slice(size)
        total += done
        sliceSize = nextSliceSize(size, done, performance.now() - started, budgetMs, max)
        if (done < size) break
        await new Promise((resolve) => setImmediate(resolve))
      }
      return total
    },
  }
}
