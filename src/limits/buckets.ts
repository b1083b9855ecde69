/**
 * Token buckets by key: each key may spend `perMinute` requests at once and earns them back evenly
 * over a minute. A key whose bucket is full again is forgotten (it is the same as a new one), so
 * memory holds only the keys active in the last minute.
 */
export type RateLimiter = {
  /** Spends one request for `key`: 0 when allowed, otherwise the seconds until one is earned back. */
  take(key: string, nowMs: number): number
  /** Keys tracked now (for tests and metrics). */
  size(): number
}

type Bucket = { tokens: number; at: number }

const SWEEP_EVERY_MS = 60_000

export function createRateLimiter(perMinute: number): RateLimiter {
  const perMs = perMinute / 60_000
  const buckets = new Map<string, Bucket>()
  let lastSweep = 0

  const refill = (bucket: Bucket, nowMs: number) => {
    bucket.tokens = Math.min(perMinute, bucket.tokens + (nowMs - bucket.at) * perMs)
    bucket.at = nowMs
  }

  function sweep(nowMs: number): void {
    lastSweep = nowMs
    for (const [key, bucket] of buckets) {
      refill(bucket, nowMs)
      if (bucket.tokens >= perMinute) buckets.delete(key)
    }
  }

  return {
    take(key, nowMs) {
      if (nowMs - lastSweep > SWEEP_EVERY_MS) sweep(nowMs)
      let bucket = buckets.get(key)
      if (!bucket) {
        bucket = { tokens: perMinute, at: nowMs }
        buckets.set(key, bucket)
      } else refill(bucket, nowMs)
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1
        return 0
      }
      return (1 - bucket.tokens) / perMs / 1000
    },
    size: () => buckets.size,
  }
}
