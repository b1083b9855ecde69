import { Database as SQLite } from 'bun:sqlite'
import { type BunSQLiteDatabase, drizzle } from 'drizzle-orm/bun-sqlite'

export type Database = BunSQLiteDatabase & { $client: SQLite }

/**
 * Opens the SQLite file with the pragmas the server relies on: WAL so readers never wait for the
 * writer, synchronous=NORMAL (bun:sqlite would otherwise stay on FULL, 5-10x slower writes),
 * foreign keys enforced, a busy timeout so a second process (the CLI) waits instead of failing, and
 * reads from the memory-mapped file.
 */
export function openDatabase(path: string): Database {
  const sqlite = new SQLite(path, { create: true, strict: true })
  sqlite.run('PRAGMA journal_mode = WAL')
  sqlite.run('PRAGMA synchronous = NORMAL')
  sqlite.run('PRAGMA foreign_keys = ON')
  sqlite.run('PRAGMA busy_timeout = 5000')
  sqlite.run('PRAGMA temp_store = MEMORY')
  sqlite.run('PRAGMA cache_size = -65536')
  // A fleet's database is gigabytes and a device's rows are anywhere in it: read pages straight
  // from the mapped file (the OS page cache) rather than copying each through a read() call into
  // the 64 MiB page cache. Bun's SQLite maps at most 2 GiB; writes still go through the WAL.
  sqlite.run('PRAGMA mmap_size = 2147418112')
  return drizzle({ client: sqlite, casing: 'snake_case' })
}

/** A cheap round trip that fails when the database file is unusable. */
export function pingDatabase(db: Database): boolean {
  try {
    return db.$client.query('SELECT 1 AS ok').get() !== null
  } catch {
    return false
  }
}

/** A page of rows, as stores take it. */
export type Window = { offset: number; limit: number }
