import { chmodSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, openDatabase, pingDatabase } from '../db/client.ts'
import { DatabaseError } from '../db/errors.ts'
import { runMigrations } from '../db/migrate.ts'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import type { MetricsSource } from './metrics/metrics.ts'
import { type StoreParts, type Stores, sqliteStores } from './stores.ts'

/** The database under the stores, whichever the engine. */
export type DatabaseHandle = {
  /** On the SQLite engine only: its checkpointer, backups, and the tests that look inside the file. */
  sqlite?: Database
  /** A cheap round trip that fails when the database is unusable (readiness). */
  ping(): Promise<boolean>
  /** Where /metrics reads the fleet and database gauges; made when metrics are on. */
  metricsSource(): Promise<MetricsSource>
  close(): Promise<void>
}

/** A migrated database and every store on it. */
export type Engine = { database: DatabaseHandle; stores: Stores }

/** The data dir's SQLite file, migrated; readable by this user only, like the rest of the data dir. */
export async function openSqliteEngine(config: Config, parts: StoreParts): Promise<Engine> {
  for (const file of ['bender.db', 'bender.db-wal', 'bender.db-shm']) {
    if (existsSync(join(config.dataDir, file))) chmodSync(join(config.dataDir, file), 0o600)
  }
  const db = openDatabase(join(config.dataDir, 'bender.db'))
  await runMigrations(db)
  return {
    database: {
      sqlite: db,
      ping: async () => pingDatabase(db),
      metricsSource: async () =>
        (await import('./metrics/source.ts')).sqliteMetricsSource(db.$client.filename),
      close: async () => db.$client.close(),
    },
    stores: sqliteStores(db, parts),
  }
}

/** The engine the configuration picks: PostgreSQL when BENDER_DATABASE_URL is set, else SQLite. */
export async function openEngine(config: Config, parts: StoreParts): Promise<Engine> {
  return openSqliteEngine(config, parts)
}
/** The services whose stores run on SQLite only so far: `serve` needs every one on PostgreSQL. */
const SQLITE_ONLY = ['useradm', 'deviceauth', 'inventory', 'deployments', 'artifacts'] as const

/**
 * A command run with BENDER_DATABASE_URL set: connects (an unreachable server, a refused login or
 * a missing database stops here with a DatabaseError naming the server) and applies PostgreSQL's
 * migrations under the migration lock. `migrate` is then done; the other commands need stores that
 * only SQLite has so far, and say so rather than start half on one engine.
 */
export async function postgresCommand(command: string, config: Config, log: Logger): Promise<void> {
  const url = config.databaseUrl
  if (url === undefined) throw new Error('postgresCommand needs BENDER_DATABASE_URL')
  // Loaded only when selected: a SQLite start never loads the PostgreSQL driver.
  const { runPgMigrations } = await import('../db/migrate.pg.ts')
  const { redactUrl } = await import('../db/pg.ts')
  await runPgMigrations(url)
  log.info('database migrated', { database: redactUrl(new URL(url)) })
  if (command === 'migrate') return
  throw new DatabaseError(
    `"${command}" cannot run on PostgreSQL yet: the stores of ${SQLITE_ONLY.join(', ')} have no PostgreSQL implementation; unset BENDER_DATABASE_URL to run on SQLite`,
  )
}
