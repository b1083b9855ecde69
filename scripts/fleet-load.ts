/**
 * The fleet bench's load model, kept free of I/O so it can be tested: which request comes when
 * (a fixed arrival rate, not "send the next when the last returns": a closed loop slows down
 * with the server and hides its stalls), which kind each one is, and the latency statistics.
 */

/** The kinds of request a Mender fleet sends, with their share at Mender's default intervals. */
export const KINDS = ['next', 'inventory', 'auth', 'list'] as const
export type Kind = (typeof KINDS)[number]

/**
 * Per device and day at Mender's defaults: a poll every 30 minutes (48), an inventory report every
 * 8 hours (3), a re-authentication a week (1/7); operators paging device lists add about as many
 * requests as the re-authentications. Shares: 94 %, 5.7 %, 0.3 %, 0.3 % (normalised).
 */
export const MENDER_MIX: Record<Kind, number> = { next: 94, inventory: 5.7, auth: 0.3, list: 0.3 }

/** Requests a device sends a day at Mender's defaults: rate × 86 400 / this = devices carried. */
export const REQUESTS_PER_DEVICE_DAY = 51

/**
 * Kinds in a smooth weighted round-robin: after any prefix of n arrivals each kind has been chosen
 * within one of n × its share, so even a short step carries the mix exactly, and two runs send the
 * same sequence.
 */
export function mixSequence(weights: Record<Kind, number>): () => Kind {
  const total = KINDS.reduce((sum, kind) => sum + weights[kind], 0)
  if (!(total > 0)) throw new Error('the mix needs a positive weight')
  const credit = new Map<Kind, number>(KINDS.map((kind) => [kind, 0]))
  return () => {
    let best: Kind = KINDS[0]
    for (const kind of KINDS) {
      credit.set(kind, credit.get(kind)! + weights[kind])
      if (credit.get(kind)! > credit.get(best)!) best = kind
    }
    credit.set(best, credit.get(best)! - total)
    return best
  }
}

/**
 * Arrival times of an open-loop step, in ms from its start: request i is due at i × 1000 / rate,
 * whatever happened to the ones before it. Its latency counts from that moment, so a request the
 * generator could only send late (because everything was stalled) is charged the wait.
 */
export function arrivals(rate: number, seconds: number): Float64Array {
  if (!(rate > 0) || !(seconds > 0)) throw new Error('rate and seconds must be positive')
  const count = Math.floor(rate * seconds)
  const out = new Float64Array(count)
  for (let i = 0; i < count; i++) out[i] = (i * 1000) / rate
  return out
}

/** How many arrivals are due by `elapsedMs`, starting from `from` (the first not yet sent). */
export function dueBy(schedule: Float64Array, from: number, elapsedMs: number): number {
  let i = from
  while (i < schedule.length && schedule[i]! <= elapsedMs) i++
  return i
}

/** The nearest-rank percentile (p in 0..1) of ascending `sorted`: the smallest value with at least p of them at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.max(1, Math.ceil(p * sorted.length))
  return sorted[Math.min(sorted.length, rank) - 1]!
}

export type LatencySummary = { count: number; p50: number; p99: number; max: number }

/** p50, p99 and max of a set of latencies (any order; the array is sorted in place). */
export function summarize(latencies: Float64Array): LatencySummary {
  const sorted = latencies.sort()
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
  }
}

/** What the bench needs of a finished step to judge it. */
export type StepVerdict = { rate: number; p99: number; errors: number }

/**
 * The highest rate that held: p99 within `p99LimitMs` and no errors. Steps are judged on their own
 * (a stall at one rate does not rule out a higher one that happened to miss it, but the table shows
 * both); undefined when none held.
 */
export function highestHolding(steps: readonly StepVerdict[], p99LimitMs: number): number | undefined {
  let best: number | undefined
  for (const step of steps) {
    if (step.errors === 0 && step.p99 <= p99LimitMs && (best === undefined || step.rate > best))
      best = step.rate
  }
  return best
}

/** Devices one box carries at `rate` requests/s of the mix. */
export const devicesCarried = (rate: number): number => Math.floor((rate * 86_400) / REQUESTS_PER_DEVICE_DAY)

/**
 * The worst windows of a step: completions bucketed by the second they were due in, each with its
 * slowest latency, worst first. Shows whether a bad p99 is one long stall or many short ones.
 */
export function worstWindows(
  dueMs: ArrayLike<number>,
  latencyMs: ArrayLike<number>,
  windowMs: number,
  top: number,
): { startMs: number; max: number; count: number }[] {
  const windows = new Map<number, { max: number; count: number }>()
  for (let i = 0; i < dueMs.length; i++) {
    const start = Math.floor(dueMs[i]! / windowMs) * windowMs
    const window = windows.get(start) ?? { max: 0, count: 0 }
    window.max = Math.max(window.max, latencyMs[i]!)
    window.count++
    windows.set(start, window)
  }
  return [...windows]
    .map(([startMs, w]) => ({ startMs, ...w }))
    .sort((a, b) => b.max - a.max)
    .slice(0, top)
}

/** Parses `--rates 63,125,500`: positive numbers, ascending as given. */
export function parseRates(text: string): number[] {
  const rates = text.split(',').map((part) => Number(part.trim()))
  if (rates.length === 0 || rates.some((rate) => !(rate > 0) || !Number.isFinite(rate))) {
    throw new Error(`--rates must be a comma-separated list of positive numbers, got ${JSON.stringify(text)}`)
  }
  return rates
}
