import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Database, openDatabase } from '../../db/client.ts'
import { runPgMigrations } from '../../db/migrate.pg.ts'
import { runMigrations } from '../../db/migrate.ts'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { testPostgres } from './postgres.ts'

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

/** A migrated database that each test's database is copied from (quicker than migrating each). */
let template: Promise<string> | undefined

/**
 * A migrated PostgreSQL database, new for each call, on the one server the test run starts (see
 * postgres.ts); `url` lets a test open a second pool on it, as another process would. `close`
 * ends the pool (the database goes with the server at the end of the run).
 */
export async function openTestPgDatabase(): Promise<{ db: PgDatabase; url: string; close(): Promise<void> }> {
  const server = await testPostgres()
  template ??= server.createDatabase().then(async (url) => {
    await runPgMigrations(url)
    return url
  })
  const url = await server.createDatabase(await template)
  const db = await openPgDatabase(url)
  return { db, url, close: () => db.$client.close() }
}
