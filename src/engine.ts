import { chmodSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, openDatabase, pingDatabase } from '../db/client.ts'
import { runMigrations } from '../db/migrate.ts'
import { type Cluster, localCluster } from './cluster/cluster.ts'
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
  /**
   * What the instances sharing this database coordinate through (leases, the login throttle, the
   * deviceconnect relay); on SQLite, one process alone. Made by whoever builds the services.
   */
  openCluster(log: Logger): Promise<Cluster>
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
      openCluster: async () => localCluster(),
      metricsSource: async () =>
        (await import('./metrics/source.ts')).sqliteMetricsSource(db.$client.filename),
      close: async () => db.$client.close(),
    },
    stores: sqliteStores(db, parts),
  }
}

/** The engine the configuration picks: PostgreSQL when BENDER_DATABASE_URL is set, else SQLite. */
export async function openEngine(config: Config, parts: StoreParts): Promise<Engine> {
  if (config.databaseUrl === undefined) return openSqliteEngine(config, parts)
  // Loaded only when selected: a SQLite start never loads the PostgreSQL driver or its stores.
  const { openPgEngine } = await import('./engine.pg.ts')
  return openPgEngine(config.databaseUrl, config.databasePoolSize, parts)
}
