import { TooManyRequestsError } from '../../gateway/errors.ts'

/** Failures allowed for one email from one address before its logins start to be delayed. */
const FREE_FAILURES = 5
/** Failures allowed from one address, whatever the emails, before its logins start to be delayed. */
const FREE_ADDRESS_FAILURES = 20
/** The delay doubles with each further failure, up to this ceiling: a real user waits at most this long. */
const MAX_LOCK_MS = 15 * 60 * 1000
/** A quiet key is forgotten after this long. */
export const FORGET_AFTER_MS = 60 * 60 * 1000
const MAX_TRACKED = 10_000

/** A counted key and the failures it is allowed before it must wait. */
export type ThrottleKey = { key: string; freeFailures: number }

/** A key's count after one more failure at `at`: from zero again when it had been quiet long enough. */
export function countFailure(
  entry: { failures: number; lastFailure: number } | undefined,
  freeFailures: number,
  at: number,
): { failures: number; lockedUntil: number; lastFailure: number } {
  const failures = (entry && at - entry.lastFailure <= FORGET_AFTER_MS ? entry.failures : 0) + 1
  const lockedUntil =
    failures >= freeFailures ? at + Math.min(MAX_LOCK_MS, 1000 * 2 ** (failures - freeFailures)) : 0
  return { failures, lockedUntil, lastFailure: at }
}

/** Milliseconds a key must still wait at `at` (0: it may try), a quiet key counting as forgotten. */
export const waitOf = (
  entry: { lockedUntil: number; lastFailure: number } | undefined,
  at: number,
): number => (!entry || at - entry.lastFailure > FORGET_AFTER_MS ? 0 : Math.max(0, entry.lockedUntil - at))

/** Where failed logins are counted: this process's memory (SQLite), or a table every instance shares. */
export interface ThrottleStore {
  /**
   * At once for all `keys`: when any of them must still wait at `now`, answers the longest wait in
   * milliseconds and counts nothing; otherwise counts one failure on each and answers 0. Concurrent
   * calls (from any instance) are counted one after the other, so none can outrun the count.
   */
  take(keys: readonly ThrottleKey[], now: number): Promise<number>
  /** Forgets the keys' failures (their login succeeded). */
  clear(keys: readonly string[]): Promise<void>
}

type Entry = { failures: number; lockedUntil: number; lastFailure: number }

/** The counts in this process's memory, bounded in size (the oldest keys go first). */
export function createMemoryThrottleStore(): ThrottleStore {
  const entries = new Map<string, Entry>()
  const prune = (at: number) => {
    for (const [key, entry] of entries) {
      if (at - entry.lastFailure > FORGET_AFTER_MS) entries.delete(key)
    }
    while (entries.size >= MAX_TRACKED) {
      const oldest = entries.keys().next()
      if (oldest.done) break
      entries.delete(oldest.value)
    }
  }
  return {
    async take(keys, now) {
      const wait = Math.max(0, ...keys.map(({ key }) => waitOf(entries.get(key), now)))
      if (wait > 0) return wait
      for (const { key, freeFailures } of keys) {
        const entry = countFailure(entries.get(key), freeFailures, now)
        entries.delete(key)
        if (entries.size >= MAX_TRACKED) prune(now)
        entries.set(key, entry)
      }
      return 0
    },
    async clear(keys) {
      for (const key of keys) entries.delete(key)
    },
  }
}

/**
 * Slows password guessing: after a few failures each attempt must wait an exponentially growing,
 * capped time (429 with Retry-After). Failures are counted per email and client address, so a third
 * party guessing from elsewhere cannot lock the real user out, and per address across emails, so one
 * address cannot try a few passwords on every account. An attempt is counted as a failure before its
 * password is checked (a success takes it back), so concurrent guesses cannot outrun the count. With
 * several instances the counts live in the shared database, so guesses spread over them add up.
 */
export function createLoginThrottle(now: () => number, store: ThrottleStore = createMemoryThrottleStore()) {
  return {
    /** Runs `verify` unless the email and address must wait; the attempt counts until it succeeds. */
    async attempt(email: string, address: string, verify: () => Promise<boolean>): Promise<boolean> {
      // As JSON: unambiguous, and free of the NUL a PostgreSQL text cannot hold.
      const account = JSON.stringify(['email', email, address])
      const fromAddress = JSON.stringify(['address', address])
      const wait = await store.take(
        [
          { key: account, freeFailures: FREE_FAILURES },
          { key: fromAddress, freeFailures: FREE_ADDRESS_FAILURES },
        ],
        now(),
      )
      if (wait > 0)
        throw new TooManyRequestsError('too many failed login attempts, try again later', wait / 1000)
      const valid = await verify()
      if (valid) await store.clear([account, fromAddress])
      return valid
    },
  }
}
