import { inArray, lt, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { loginThrottle } from '../../cluster/tables.pg.ts'
import { countFailure, FORGET_AFTER_MS, type ThrottleStore, waitOf } from './throttle.ts'

const PRUNE_EVERY_MS = 60_000

/**
 * Failed logins counted in a table every instance shares, so guesses spread over several
 * instances add up. One transaction per attempt locks the keys' rows (made first when missing,
 * always in the same order, so two attempts never deadlock), then decides as the memory store does.
 */
export function createPgThrottleStore(db: PgDatabase): ThrottleStore {
  let prunedAt = 0
  /** Quiet keys go, at most once a minute per instance and outside the attempts' transactions. */
  async function prune(now: number): Promise<void> {
    if (now - prunedAt < PRUNE_EVERY_MS) return
    prunedAt = now
    try {
      await db.delete(loginThrottle).where(lt(loginThrottle.lastFailure, new Date(now - FORGET_AFTER_MS)))
    } catch {
      // Another instance pruning the same rows at once may make this one fail: it tries next minute.
    }
  }
  return {
    async take(keys, now) {
      await prune(now)
      const at = new Date(now)
      const names = [...new Set(keys.map((k) => k.key))].sort()
      return db.transaction(async (tx) => {
        await tx
          .insert(loginThrottle)
          .values(names.map((key) => ({ key, failures: 0, lockedUntil: 0, lastFailure: at })))
          .onConflictDoNothing()
        const rows = await tx
          .select()
          .from(loginThrottle)
          .where(inArray(loginThrottle.key, names))
          .orderBy(loginThrottle.key)
          .for('update')
        const byKey = new Map(rows.map((r) => [r.key, { ...r, lastFailure: r.lastFailure.getTime() }]))
        const wait = Math.max(0, ...names.map((key) => waitOf(byKey.get(key), now)))
        if (wait > 0) return wait
        for (const { key, freeFailures } of keys) {
          const next = countFailure(byKey.get(key), freeFailures, now)
          await tx
            .update(loginThrottle)
            .set({ failures: next.failures, lockedUntil: next.lockedUntil, lastFailure: at })
            .where(sql`${loginThrottle.key} = ${key}`)
        }
        return 0
      })
    },

    async clear(keys) {
      if (keys.length > 0) await db.delete(loginThrottle).where(inArray(loginThrottle.key, [...keys]))
    },
  }
}
