import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MigrationMeta } from 'drizzle-orm/migrator'
import type { Database } from './client.ts'
import journal from './migrations/meta/_journal.json' with { type: 'json' }

/**
 * The SQL of one migration. A compiled binary carries the files as embedded assets under their
 * own names (scripts/build.ts passes them to `bun build --compile`; PostgreSQL's are named
 * `NNNN_pg_*` so they never meet SQLite's); from source they are read from `folder`.
 */
function migrationSql(folder: string, tag: string): Promise<string> | string {
  const name = `${tag}.sql`
  const embedded = Bun.embeddedFiles.find((file) => (file as Blob & { name: string }).name === name)
  return embedded ? embedded.text() : readFileSync(join(import.meta.dir, folder, name), 'utf8')
}

/** A drizzle-kit journal's entries, as both engines' journals list them. */
export type JournalEntry = { tag: string; when: number; breakpoints: boolean }

/** Loads drizzle-kit's journal and files (of db/`folder`) in the shape drizzle's own migrator builds. */
export async function loadMigrations(folder: string, entries: JournalEntry[]): Promise<MigrationMeta[]> {
  const metas: MigrationMeta[] = []
  for (const entry of entries) {
    const sql = await migrationSql(folder, entry.tag)
    metas.push({
      sql: sql.split('--> statement-breakpoint'),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash('sha256').update(sql).digest('hex'),
    })
  }
  return metas
}

/** Applies every migration not yet recorded, in one transaction, before the server listens. */
export async function runMigrations(db: Database): Promise<void> {
  const migrations = await loadMigrations('migrations', journal.entries)
  // drizzle's bun-sqlite migrate() only differs by reading a folder; the dialect does the bookkeeping.
  const { dialect, session } = db as unknown as {
    dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): void }
    session: unknown
  }
  dialect.migrate(migrations, session, {})
}
