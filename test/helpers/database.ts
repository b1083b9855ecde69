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
  const url = await createTestPgDatabaseUrl()
  const db = await openPgDatabase(url)
  return { db, url, close: () => db.$client.close() }
}

/** The engine the app tests run on: SQLite, or PostgreSQL when BENDER_TEST_ENGINE=postgres (scripts/test's second pass). */
export const testEngine: 'sqlite' | 'postgres' =
  process.env.BENDER_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite'

/** A new migrated PostgreSQL database on the test server, as its URL (copied from the migrated template). */
export async function createTestPgDatabaseUrl(): Promise<string> {
  const server = await testPostgres()
  template ??= server.createDatabase().then(async (url) => {
    await runPgMigrations(url)
    return url
  })
  return server.createDatabase(await template)
}

/** Settings that put an app on the test engine: a database of its own on PostgreSQL, nothing on SQLite. */
export async function testEngineEnv(): Promise<Record<string, string>> {
  return testEngine === 'postgres' ? { BENDER_DATABASE_URL: await createTestPgDatabaseUrl() } : {}
}

/**
 * Raw SQL for tests that look at what was stored, on either engine: `?` placeholders (rewritten to
 * PostgreSQL's `$n`), rows as plain objects.
 */
export type TestSql = (query: string, ...params: unknown[]) => Promise<Record<string, unknown>[]>

export function sqliteSql(db: Database): TestSql {
  return async (query, ...params) =>
    db.$client.query(query).all(...(params as never[])) as Record<string, unknown>[]
}

export function pgSql(db: PgDatabase): TestSql {
  return async (query, ...params) => {
    let n = 0
    const numbered = query.replace(/\?/g, () => `$${++n}`)
    return (await db.$client.unsafe(numbered, params as never[])) as Record<string, unknown>[]
  }
}
