/**
 * Token buckets by key: each key may spend `perMinute` requests at once and earns them back evenly
 * over a minute. A key whose bucket is full again is forgotten (it is the same as a new one), so
 * memory holds only the keys active in the last two minutes.
 */
export type RateLimiter = {
  /** Spends one request for `key`: 0 when allowed, otherwise the seconds until one is earned back. */
  take(key: string, nowMs: number): number
  /** Keys tracked now (for tests and metrics). */
  size(): number
}

type Bucket = { tokens: number; at: number }

const GENERATION_MS = 60_000

/**
 * The buckets live in two generations, each a minute: a key is looked for in the current one, then
 * in the previous one (and moved back). Every minute the previous generation is dropped whole: its
 * keys were not touched for at least a minute, so their buckets are full again. Forgetting costs
 * the same with a million keys as with ten; a sweep over every bucket held the request it ran in
 * for tens of milliseconds at fleet scale.
 */
export function createRateLimiter(perMinute: number): RateLimiter {
  const perMs = perMinute / 60_000
  let current = new Map<string, Bucket>()
  let previous = new Map<string, Bucket>()
  let generationStart: number | undefined

  const refill = (bucket: Bucket, nowMs: number) => {
    bucket.tokens = Math.min(perMinute, bucket.tokens + (nowMs - bucket.at) * perMs)
    bucket.at = nowMs
  }

  function turn(nowMs: number): void {
    if (generationStart === undefined) generationStart = nowMs
    const elapsed = nowMs - generationStart
    if (elapsed < GENERATION_MS) return
    // Two generations on, the current one's keys are a minute old too.
    previous = elapsed < 2 * GENERATION_MS ? current : new Map()
    current = new Map()
    generationStart = nowMs
  }

  return {
    take(key, nowMs) {
      turn(nowMs)
      let bucket = current.get(key)
      if (!bucket) {
        bucket = previous.get(key)
        if (bucket) {
          previous.delete(key)
          refill(bucket, nowMs)
        } else bucket = { tokens: perMinute, at: nowMs }
        current.set(key, bucket)
      } else refill(bucket, nowMs)
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return 0
      }
      return (1 - bucket.tokens) / perMs / 1000
    },
    size: () => current.size + previous.size,
  }
}
