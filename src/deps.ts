import { chmodSync, mkdirSync } from 'node:fs'
import type { Database } from '../db/client.ts'
import { type Clock, systemClock } from './clock.ts'
import type { Config } from './config.ts'
import { type DatabaseHandle, openEngine } from './engine.ts'
import { type Ids, randomIds } from './ids.ts'
import { createLogger, type Logger } from './log.ts'
import type { BlobStore } from './storage/blobs.ts'
import { createDiskBlobStore } from './storage/disk.ts'
import { createLinks, type Links } from './storage/links.ts'
import type { Stores } from './stores.ts'
import { createTokens, type Tokens } from './tokens.ts'

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
  const clock = overrides.clock ?? systemClock
  const ids = overrides.ids ?? randomIds
  const { database, stores } = await openEngine(config, { clock, ids })
  // The AWS SDK is a large share of start-up: loaded only when S3 is used.
  const blobs = config.s3
    ? await (await import('./storage/s3.ts')).createS3BlobStore(config.s3, clock)
    : createDiskBlobStore(config.storageDir)
  const deps: Deps = {
    config,
    database,
    stores,
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
