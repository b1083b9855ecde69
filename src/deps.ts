import { chmodSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, openDatabase } from '../db/client.ts'
import { runMigrations } from '../db/migrate.ts'
import { type Clock, systemClock } from './clock.ts'
import type { Config } from './config.ts'
import { type Ids, randomIds } from './ids.ts'
import { createLogger, type Logger } from './log.ts'
import type { BlobStore } from './storage/blobs.ts'
import { createDiskBlobStore } from './storage/disk.ts'
import { createLinks, type Links } from './storage/links.ts'
import { createTokens, type Tokens } from './tokens.ts'

/** Everything a factory may depend on; built once in main.ts (or by the test helper). */
export type Deps = {
  config: Config
  db: Database
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
  // The AWS SDK is a large share of start-up: loaded only when S3 is used.
  const blobs = config.s3
    ? await (await import('./storage/s3.ts')).createS3BlobStore(config.s3, clock)
    : createDiskBlobStore(config.storageDir)
  const deps: Deps = {
    config,
    db,
    blobs,
    links: createLinks(config, clock, blobs),
    tokens: createTokens(config, clock),
    clock,
    ids: overrides.ids ?? randomIds,
    log: overrides.log ?? createLogger(config.logLevel, undefined, config.logFormat),
  }
  return deps
}

/** Releases what buildDeps opened. */
export function closeDeps(deps: Deps): void {
  deps.blobs.close()
  deps.db.$client.close()
}
