import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Database, openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'

/** A migrated SQLite database in a fresh temp dir, for a store contract suite; `close` removes it. */
export async function openTestDatabase(): Promise<{ db: Database; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'bender-store-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    db,
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
