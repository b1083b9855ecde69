import { eq } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import type { RevocationCounter } from './store.rows.ts'
import { revocations as shared } from './tables.pg.ts'

/**
 * The `sync` of a revocation counter whose database other instances share: reads the shared count
 * (one primary-key read) and moves `counter.value` up to it. A revocation bumps the shared row in
 * its own transaction, so the new count is visible exactly when the revocation is: a read that
 * starts after that commit sees both, and the authenticator looks the token up again.
 *
 * Concurrent calls share reads: a call joins the read that starts next (never one already under
 * way, which may predate a commit the caller must see), so a busy instance makes about one read
 * per round trip to the database, however many requests arrive meanwhile.
 */
export function syncRevocations(db: PgDatabase, counter: RevocationCounter): () => Promise<void> {
  const current = db
    .select({ value: shared.value })
    .from(shared)
    .where(eq(shared.id, 1))
    .prepare('deviceauth_revocation_count')
  let running: Promise<void> | undefined
  let next: Promise<void> | undefined

  const start = (): Promise<void> => {
    const read: Promise<void> = current.execute().then(
      ([row]) => {
        if (running === read) running = undefined
        counter.value = Math.max(counter.value, row?.value ?? 0)
      },
      (err: unknown) => {
        if (running === read) running = undefined
        throw err
      },
    )
    running = read
    return read
  }

  return () => {
    if (!running) return start()
    next ??= running
      .catch(() => {})
      .then(() => {
        next = undefined
        return start()
      })
    return next
  }
}
