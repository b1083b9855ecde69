import { TooManyRequestsError } from '../../gateway/errors.ts'

/** Failures allowed before logins for an email start to be delayed. */
const FREE_FAILURES = 5
/** The delay doubles with each further failure, up to this ceiling: a real user waits at most this long. */
const MAX_LOCK_MS = 15 * 60 * 1000
/** A quiet email is forgotten after this long. */
const FORGET_AFTER_MS = 60 * 60 * 1000
const MAX_TRACKED = 10_000

type Entry = { failures: number; lockedUntil: number; lastFailure: number }

/**
 * Slows password guessing per email: after a few failures each attempt must wait an exponentially
 * growing, capped time (429 with Retry-After). A success clears the record; so does an hour of quiet.
 */
export function createLoginThrottle(now: () => number) {
  const entries = new Map<string, Entry>()

  const prune = (at: number) => {
    for (const [email, entry] of entries) {
      if (at - entry.lastFailure > FORGET_AFTER_MS) entries.delete(email)
    }
    while (entries.size >= MAX_TRACKED) {
      const oldest = entries.keys().next()
      if (oldest.done) break
      entries.delete(oldest.value)
    }
  }

  return {
    check(email: string): void {
      const entry = entries.get(email)
      if (!entry) return
      const at = now()
      if (at - entry.lastFailure > FORGET_AFTER_MS) {
        entries.delete(email)
        return
      }
      if (entry.lockedUntil > at) {
        throw new TooManyRequestsError(
          'too many failed login attempts, try again later',
          (entry.lockedUntil - at) / 1000,
        )
      }
    },
    fail(email: string): void {
      const at = now()
      const entry = entries.get(email) ?? { failures: 0, lockedUntil: 0, lastFailure: at }
      entry.failures += 1
      entry.lastFailure = at
      if (entry.failures >= FREE_FAILURES) {
        entry.lockedUntil = at + Math.min(MAX_LOCK_MS, 1000 * 2 ** (entry.failures - FREE_FAILURES))
      }
      entries.delete(email)
      if (entries.size >= MAX_TRACKED) prune(at)
      entries.set(email, entry)
    },
    succeed(email: string): void {
      entries.delete(email)
    },
  }
}
