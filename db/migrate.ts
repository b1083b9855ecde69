import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MigrationMeta } from 'drizzle-orm/migrator'
import type { Database } from './client.ts'
import journal from './migrations/meta/_journal.json' with { type: 'json' }

const MIGRATIONS_DIR = join(import.meta.dir, 'migrations')

/**
 * The SQL of one migration. A compiled binary carries the files as embedded assets
 * (scripts/build.ts passes them to `bun build --compile`); from source they are read from disk.
 */
function migrationSql(tag: string): Promise<string> | string {
  const name = `${tag}.sql`
  const embedded = Bun.embeddedFiles.find((file) => (file as Blob & { name: string }).name === name)
  return embedded ? embedded.text() : readFileSync(join(MIGRATIONS_DIR, name), 'utf8')
}

/** Loads drizzle-kit's journal and files in the shape drizzle's own migrator builds. */
async function loadMigrations(): Promise<MigrationMeta[]> {
  const metas: MigrationMeta[] = []
  for (const entry of journal.entries) {
    const sql = await migrationSql(entry.tag)
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
  const migrations = await loadMigrations()
  // drizzle's bun-sqlite migrate() only differs by reading a folder; the dialect does the bookkeeping.
  const { dialect, session } = db as unknown as {
    dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): void }
    session: unknown
  }
  dialect.migrate(migrations, session, {})
}
