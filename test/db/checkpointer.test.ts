import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCheckpointer } from '../../db/checkpointer.ts'
import { openDatabase } from '../../db/client.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function open() {
  const dir = mkdtempSync(join(tmpdir(), 'bender-checkpoint-'))
  dirs.push(dir)
  const path = join(dir, 'bender.db')
  return { db: openDatabase(path), path }
}

test('commits no longer checkpoint on the writing thread; the worker copies the WAL into the file', async () => {
  const { db, path } = open()
  const errors: string[] = []
  // An hour apart: only the last checkpoint, at stop, runs during the test.
  const checkpointer = startCheckpointer(db, {
    onError: (error) => errors.push(error),
    intervalMs: 3_600_000,
  })
  const sqlite = db.$client
  expect(sqlite.query('PRAGMA wal_autocheckpoint').get()).toEqual({ wal_autocheckpoint: 0 })
  sqlite.run('CREATE TABLE t (v BLOB)')
  const insert = sqlite.prepare('INSERT INTO t (v) VALUES (?)')
  // 8 MiB, far past the 1000 pages at which a commit would otherwise checkpoint itself.
  for (let i = 0; i < 64; i++) sqlite.transaction(() => insert.run(new Uint8Array(128 * 1024)))()
  const walOnly = statSync(path).size
  expect(walOnly).toBeLessThan(1024 * 1024)
  await checkpointer.stop()
  expect(statSync(path).size).toBeGreaterThan(8 * 1024 * 1024)
  expect(errors).toEqual([])
  expect(sqlite.query('SELECT count(*) AS n FROM t').get()).toEqual({ n: 64 })
  sqlite.close()
})

test('under steady writes the WAL starts over once past its limit, instead of growing with every write', async () => {
  const { db, path } = open()
  const restartBytes = 2 * 1024 * 1024
  const checkpointer = startCheckpointer(db, { onError: () => {}, intervalMs: 20, restartBytes })
  const sqlite = db.$client
  sqlite.run('CREATE TABLE t (v BLOB)')
  const insert = sqlite.prepare('INSERT INTO t (v) VALUES (?)')
  // 96 MiB in 64 KiB commits, one after another: the worker's checkpoints never find the WAL still,
  // so without the writer's catch-up SQLite never starts the WAL over and the file only grows.
  // Between commits the thread takes its messages, as the server does between requests. A restart
  // shows as the file cut back (journal_size_limit) to the limit.
  let restarts = 0
  let previous = 0
  for (let i = 0; i < 1536; i++) {
    sqlite.transaction(() => insert.run(new Uint8Array(64 * 1024)))()
    const size = statSync(`${path}-wal`).size
    if (size < previous) {
      restarts++
      expect(size).toBeLessThanOrEqual(restartBytes)
    }
    previous = size
    await new Promise((resolve) => setImmediate(resolve))
  }
  await checkpointer.stop()
  expect(sqlite.query('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1536 })
  expect(restarts).toBeGreaterThanOrEqual(2)
  sqlite.close()
})

test('stopping twice waits for the same last checkpoint', async () => {
  const { db } = open()
  const checkpointer = startCheckpointer(db, { onError: () => {} })
  await Promise.all([checkpointer.stop(), checkpointer.stop()])
  db.$client.close()
})

test('connections read through a memory map of the database file', () => {
  const { db } = open()
  expect(db.$client.query('PRAGMA mmap_size').get()).toEqual({ mmap_size: 2147418112 })
  db.$client.close()
})
