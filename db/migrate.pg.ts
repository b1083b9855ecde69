import type { MigrationMeta } from 'drizzle-orm/migrator'
import { loadMigrations } from './migrate.ts'
import journal from './migrations-pg/meta/_journal.json' with { type: 'json' }
import { openPgDatabase } from './pg.ts'

/**
 * The advisory lock that serialises migrations: any 64-bit number no other part of bender takes
 * ("bender-migrate" in ASCII, truncated).
 */
const MIGRATION_LOCK = 0x62656e6465726d69n

/**
 * Applies every PostgreSQL migration not yet recorded, each run in one transaction, on a
 * connection of its own that holds a session advisory lock meanwhile: instances starting together
 * queue on the lock, and the ones after the first find everything applied.
 */
export async function runPgMigrations(url: string): Promise<void> {
  const migrations = await loadMigrations('migrations-pg', journal.entries)
  const db = await openPgDatabase(url, { max: 1 })
  try {
    await db.$client`SELECT pg_advisory_lock(${MIGRATION_LOCK.toString()}::bigint)`
    // drizzle's postgres-js migrate() only differs by reading a folder; the dialect does the bookkeeping.
    const { dialect, session } = db as unknown as {
      dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): Promise<void> }
      session: unknown
    }
    await dialect.migrate(migrations, session, {})
  } finally {
    // Ending the connection releases the lock too, even when the unlock could not be sent.
    await db.$client`SELECT pg_advisory_unlock(${MIGRATION_LOCK.toString()}::bigint)`.catch(() => {})
    await db.$client.close()
  }
}
