import { TooManyRequestsError } from '../../gateway/errors.ts'

/** Failures allowed for one email from one address before its logins start to be delayed. */
const FREE_FAILURES = 5
/** Failures allowed from one address, whatever the emails, before its logins start to be delayed. */
const FREE_ADDRESS_FAILURES = 20
/** The delay doubles with each further failure, up to this ceiling: a real user waits at most this long. */
const MAX_LOCK_MS = 15 * 60 * 1000
/** A quiet key is forgotten after this long. */
const FORGET_AFTER_MS = 60 * 60 * 1000
const MAX_TRACKED = 10_000

type Entry = { failures: number; lockedUntil: number; lastFailure: number }

/** Failure counts by key, each with its exponential, capped lock; bounded in size. */
function createCounter(freeFailures: number, now: () => number) {
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
    /** Milliseconds `key` must still wait, 0 when it may try now. */
    wait(key: string): number {
      const entry = entries.get(key)
      if (!entry) return 0
      const at = now()
      if (at - entry.lastFailure > FORGET_AFTER_MS) {
        entries.delete(key)
        return 0
      }
      return Math.max(0, entry.lockedUntil - at)
    },
    count(key: string): void {
      const at = now()
      const entry = entries.get(key) ?? { failures: 0, lockedUntil: 0, lastFailure: at }
      entry.failures += 1
      entry.lastFailure = at
      if (entry.failures >= freeFailures) {
        entry.lockedUntil = at + Math.min(MAX_LOCK_MS, 1000 * 2 ** (entry.failures - freeFailures))
      }
      entries.delete(key)
      if (entries.size >= MAX_TRACKED) prune(at)
      entries.set(key, entry)
    },
    clear(key: string): void {
      entries.delete(key)
    },
  }
}

/**
 * Slows password guessing: after a few failures each attempt must wait an exponentially growing,
 * capped time (429 with Retry-After). Failures are counted per email and client address, so a third
 * party guessing from elsewhere cannot lock the real user out, and per address across emails, so one
 * address cannot try a few passwords on every account. An attempt is counted as a failure before its
 * password is checked (a success takes it back), so concurrent guesses cannot outrun the count.
 */
export function createLoginThrottle(now: () => number) {
  const accounts = createCounter(FREE_FAILURES, now)
  const addresses = createCounter(FREE_ADDRESS_FAILURES, now)
  const accountKey = (email: string, address: string) => `${email}\u0000${address}`
  return {
    /** Runs `verify` unless the email and address must wait; the attempt counts until it succeeds. */
    async attempt(email: string, address: string, verify: () => Promise<boolean>): Promise<boolean> {
      const wait = Math.max(accounts.wait(accountKey(email, address)), addresses.wait(address))
      if (wait > 0)
        throw new TooManyRequestsError('too many failed login attempts, try again later', wait / 1000)
      accounts.count(accountKey(email, address))
      addresses.count(address)
      const valid = await verify()
      if (valid) {
        accounts.clear(accountKey(email, address))
        addresses.clear(address)
      }
      return valid
    },
  }
}
