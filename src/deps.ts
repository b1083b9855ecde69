import { chmodSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, openDatabase, pingDatabase } from '../db/client.ts'
import { runMigrations } from '../db/migrate.ts'
import { type Clock, systemClock } from './clock.ts'
import type { Config } from './config.ts'
import { type Ids, randomIds } from './ids.ts'
import { createLogger, type Logger } from './log.ts'
import type { BlobStore } from './storage/blobs.ts'
import { createDiskBlobStore } from './storage/disk.ts'
import { createLinks, type Links } from './storage/links.ts'
import { type Stores, sqliteStores } from './stores.ts'
import { createTokens, type Tokens } from './tokens.ts'

/** The database under the stores, whichever the engine. */
export type DatabaseHandle = {
  /** On the SQLite engine only: its checkpointer, backups, and the tests that look inside the file. */
  sqlite?: Database
  /** A cheap round trip that fails when the database is unusable (readiness). */
  ping(): Promise<boolean>
  close(): Promise<void>
}

function sqliteHandle(db: Database): DatabaseHandle {
  return {
    sqlite: db,
    ping: async () => pingDatabase(db),
    close: async () => db.$client.close(),
  }
}

/** Everything a factory may depend on; built once in main.ts (or by the test helper). */
export type Deps = {
  config: Config
  database: DatabaseHandle
  /** Every service's store, on the engine the configuration picks. */
  stores: Stores
  blobs: BlobStore
  /** Signed storage-proxy links (and S3 presigned downloads when enabled). */
  links: Links
  tokens: Tokens
  clock: Clock
  ids: Ids
  log: Logger
}

/**
 * Opens the data dir (database migrated, signing keys ready, blob store reachable): what `serve`
 * and every CLI verb start from.
 */
export async function buildDeps(
  config: Config,
  overrides: Partial<Pick<Deps, 'clock' | 'ids' | 'log'>> = {},
) {
  // The data dir holds password hashes, signing keys and artifacts: readable by this user only,
  // whatever the umask, including what an earlier version created with wider modes.
  process.umask(0o077)
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  chmodSync(config.dataDir, 0o700)
  for (const file of ['bender.db', 'bender.db-wal', 'bender.db-shm']) {
    if (existsSync(join(config.dataDir, file))) chmodSync(join(config.dataDir, file), 0o600)
  }
  const db = openDatabase(join(config.dataDir, 'bender.db'))
  await runMigrations(db)
  const clock = overrides.clock ?? systemClock
  const ids = overrides.ids ?? randomIds
  // The AWS SDK is a large share of start-up: loaded only when S3 is used.
  const blobs = config.s3
    ? await (await import('./storage/s3.ts')).createS3BlobStore(config.s3, clock)
    : createDiskBlobStore(config.storageDir)
  const deps: Deps = {
    config,
    database: sqliteHandle(db),
    stores: sqliteStores(db, { clock, ids }),
    blobs,
    links: createLinks(config, clock, blobs),
    tokens: createTokens(config, clock),
    clock,
    ids,
    log: overrides.log ?? createLogger(config.logLevel, undefined, config.logFormat),
  }
  return deps
}

/** Releases what buildDeps opened. */
export async function closeDeps(deps: Deps): Promise<void> {
  deps.blobs.close()
  await deps.database.close()
}

/** The SQLite database of a SQLite data dir, for what works on that engine only (seeding, SQLite's own checks). */
export function sqliteOf(deps: Pick<Deps, 'database'>): Database {
  const { sqlite } = deps.database
  if (!sqlite) throw new Error('this works on a SQLite data dir only (BENDER_DATABASE_URL is set)')
  return sqlite
}
