#!/usr/bin/env bun
/**
 * A seeded SQLite data dir copied into PostgreSQL, so the benches measure the same fleet on both
 * engines; and the PostgreSQL server the benches run on.
 *
 *   bun scripts/seed-postgres.ts --data-dir D --database-url postgres://…/db
 *
 * copies D's `bender.db` (seeded by scripts/seed.ts or a bench's own seeding) into an empty, freshly
 * migrated database (migrated here when it is not). bench-deployments and bench-inventory call the
 * same `copyToPostgres` with `--engines postgres` on a server of their own (`startBenchPostgres`).
 *
 * How it goes fast (1M devices in minutes): every table bender has on both engines is streamed
 * with `COPY … FROM STDIN` (text format) on one connection, its rows read in rowid order (so a
 * PostgreSQL-only insertion-order column fills in the same order); the table's secondary indexes
 * are dropped before and built once after (one sort instead of millions of random B-tree inserts,
 * with `maintenance_work_mem` of 1 GB); foreign-key triggers are off for the session
 * (`session_replication_role = replica`: the rows come from a consistent database). Values are
 * converted by the PostgreSQL column's type: millisecond integers to `timestamptz`, 0/1 to booleans,
 * JSON text as written to `json`, inventory's scalar values to `jsonb`, blobs to `bytea`. The free
 * text is rebuilt from the attribute rows, each device's string values cut by the same code the
 * PostgreSQL store uses (`vectorOf`), since SQLite's FTS5 index keeps no text. Identity sequences
 * are moved past the copied keys, then `VACUUM ANALYZE` leaves the planner statistics and the
 * visibility map of a database that has been running a while (autovacuum would, later).
 */
import { Database } from 'bun:sqlite'
import { tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort } from 'node:worker_threads'
import { SQL } from 'bun'
import { runPgMigrations } from '../db/migrate.pg.ts'
import { isFullText } from '../src/services/inventory/text.ts'
import { vectorOf } from '../src/services/inventory/text.words.ts'
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.ts'

const GB = 1024 ** 3
const mb = (bytes: number) => `${Math.floor(bytes / 1024 / 1024)}MB`

/**
 * The bench server's settings: a durable server tuned as one would tune a dedicated database host,
 * not the tests' throwaway one (whose fsync is off).
 * - `shared_buffers` 25 % of RAM (at most 8 GB): PostgreSQL's documented starting point for a
 *   dedicated server; `effective_cache_size` 50 % (the planner's guess of what the OS caches too);
 * - `work_mem` 32 MB: a search that sorts tens of thousands of matches does it in memory (the
 *   default 4 MB spills to disk); `maintenance_work_mem` 1 GB for the index builds after seeding;
 * - `max_wal_size` 8 GB, `checkpoint_timeout` 15 min: no checkpoint forced by WAL volume in the
 *   middle of seeding or of a pass;
 * - `random_page_cost` 1.1: the data is on SSD (as the SQLite file is);
 * - `synchronous_commit` off: a commit does not wait for its WAL to reach the disk, which is what
 *   bender's SQLite does (WAL with `synchronous = NORMAL`: commits do not fsync); fsync and full page
 *   writes stay on (PostgreSQL's defaults);
 * - `jit` off: bender's statements are short, and at a million rows the planner's cost estimates
 *   would have JIT compile some of them for longer than they run;
 * - `max_connections` 300: two instances at bender's default pool (20) plus their LISTEN
 *   connections, with room.
 */
export function benchPostgresSettings(): Record<string, string> {
  const ram = totalmem()
  return {
    shared_buffers: mb(Math.min(ram / 4, 8 * GB)),
    effective_cache_size: mb(ram / 2),
    work_mem: '32MB',
    maintenance_work_mem: '1GB',
    max_wal_size: '8GB',
    checkpoint_timeout: '15min',
    random_page_cost: '1.1',
    fsync: 'on',
    full_page_writes: 'on',
    synchronous_commit: 'off',
    jit: 'off',
    max_connections: '300',
  }
}

/**
 * A server of its own for a bench (Debian's binaries), its files beside `near` (on the data dir's
 * disk), or in the temp dir when PostgreSQL's user may not write there (run as root, the server
 * runs as `postgres`, which e.g. /root keeps out).
 */
export async function startBenchPostgres(near: string): Promise<TestPostgres> {
  const parent = dirname(resolve(near))
  const asPostgres =
    process.getuid?.() === 0 ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups'] : []
  const writable = Bun.spawnSync([...asPostgres, 'test', '-w', parent, '-a', '-x', parent]).exitCode === 0
  if (!writable) console.error(`PostgreSQL's files go to ${tmpdir()}: its user may not write to ${parent}`)
  return startPostgres({ settings: benchPostgresSettings(), ...(writable ? { parent } : {}) })
}

type Column = { name: string; type: string; identity: boolean }

/** Text-format COPY escaping: backslash, tab, newline and carriage return. */
const copyText = (text: string) =>
  /[\\\t\n\r]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : text

/** A SQLite value as the COPY text of a PostgreSQL column of `type`. */
function field(value: unknown, type: string): string {
  if (value === null || value === undefined) return '\\N'
  switch (type) {
    case 'timestamp with time zone':
      return new Date(typeof value === 'number' ? value : Date.parse(String(value))).toISOString()
    case 'boolean':
      return value ? 't' : 'f'
    case 'jsonb':
      return copyText(JSON.stringify(value))
    case 'json':
      return copyText(typeof value === 'string' ? value : JSON.stringify(value))
    case 'bytea':
      return `\\\\x${Buffer.from(value as Uint8Array).toString('hex')}`
    default:
      return copyText(typeof value === 'string' ? value : String(value))
  }
}

/** Lines of COPY text are sent in chunks of about this many characters. */
const CHUNK = 4 * 1024 * 1024

type Reserved = Awaited<ReturnType<SQL['reserve']>>

/** Streams `lines` into `COPY table (columns)`; answers the rows written. */
async function copyLines(conn: Reserved, table: string, columns: string[], lines: Iterable<string>) {
  const writer = conn
    .unsafe(`COPY "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) FROM STDIN`)
    .writable()
    .getWriter()
  let chunk = ''
  let rows = 0
  try {
    for (const line of lines) {
      chunk += line
      rows++
      if (chunk.length >= CHUNK) {
        await writer.write(chunk)
        chunk = ''
      }
    }
    if (chunk) await writer.write(chunk)
    await writer.close()
  } catch (err) {
    await writer.abort(err).catch(() => {})
    throw err
  }
  return rows
}

/** Runs `fn` with `table`'s secondary indexes dropped, and builds them again after. */
async function withoutIndexes(conn: Reserved, table: string, fn: () => Promise<void>) {
  const indexes = (await conn.unsafe(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
     FROM pg_index i WHERE i.indrelid = $1::regclass
     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
    [`"${table}"`],
  )) as { name: string; definition: string }[]
  for (const index of indexes) await conn.unsafe(`DROP INDEX ${index.name}`)
  await fn()
  for (const index of indexes) await conn.unsafe(index.definition)
}

/**
 * Copies the SQLite database `sqliteFile` into the PostgreSQL database at `url` (migrated here; it
 * must hold no devices yet). `log` gets a line per table.
 */
export async function copyToPostgres(
  sqliteFile: string,
  url: string,
  log: (line: string) => void = console.error,
): Promise<void> {
  const started = performance.now()
  const secondsSince = (t: number) => `${((performance.now() - t) / 1000).toFixed(1)} s`
  await runPgMigrations(url)
  const sqlite = new Database(sqliteFile, { readonly: true })
  const pg = new SQL({ url, max: 1 })
  const conn = await pg.reserve()
  try {
    const [held] = (await conn.unsafe(
      'SELECT (SELECT count(*) FROM inventory_devices) + (SELECT count(*) FROM deviceauth_devices) AS n',
    )) as [{ n: string }]
    if (Number(held.n) > 0) throw new Error('the PostgreSQL database already holds devices')
    await conn.unsafe("SET session_replication_role = 'replica'")
    await conn.unsafe("SET maintenance_work_mem = '1GB'")

    const pgColumns = new Map<string, Column[]>()
    const described = (await conn.unsafe(
      `SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    )) as { table_name: string; column_name: string; data_type: string; is_identity: string }[]
    for (const c of described) {
      const list = pgColumns.get(c.table_name) ?? []
      list.push({ name: c.column_name, type: c.data_type, identity: c.is_identity === 'YES' })
      pgColumns.set(c.table_name, list)
    }
    const sqliteTables = new Set(
      sqlite
        .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((t) => t.name),
    )

    // The free text is cut on a thread of its own (that work is this side's, the other tables'
    // is the server's), into the table whose index is built once it is full.
    let texts = 0
    let textSeconds = ''
    const textStarted = performance.now()
    await withoutIndexes(conn, 'inventory_text', async () => {
      const text = textInWorker(sqliteFile, url).then((n) => {
        textSeconds = secondsSince(textStarted)
        return n
      })
      // Awaited below, after the other tables; a failure meanwhile must not go unhandled.
      text.catch(() => {})
      for (const [table, all] of pgColumns) {
        // The free text is the worker's; PostgreSQL-only tables keep what the migrations put there.
        if (table === 'inventory_text' || !sqliteTables.has(table)) continue
        const { n } = sqlite.query<{ n: number }, []>(`SELECT count(*) AS n FROM "${table}"`).get()!
        if (n === 0) continue
        const names = new Set(
          sqlite
            .query<{ name: string }, []>(`PRAGMA table_info("${table}")`)
            .all()
            .map((c) => c.name),
        )
        const columns = all.filter((c) => names.has(c.name))
        const select = `SELECT ${columns.map((c) => `"${c.name}"`).join(', ')} FROM "${table}"`
        const hasRowid = (() => {
          try {
            sqlite.query(`SELECT rowid FROM "${table}" LIMIT 1`).get()
            return true
          } catch {
            return false
          }
        })()
        const rows = sqlite.query<Record<string, unknown>, []>(hasRowid ? `${select} ORDER BY rowid` : select)
        const t0 = performance.now()
        await withoutIndexes(conn, table, async () => {
          await copyLines(
            conn,
            table,
            columns.map((c) => c.name),
            (function* () {
              for (const row of rows.iterate())
                yield `${columns.map((c) => field(row[c.name], c.type)).join('\t')}\n`
            })(),
          )
        })
        for (const c of columns.filter((c) => c.identity))
          await conn.unsafe(
            `SELECT setval(pg_get_serial_sequence($1, $2), (SELECT coalesce(max("${c.name}"), 0) + 1 FROM "${table}"), false)`,
            [table, c.name],
          )
        log(`  ${table}: ${n} rows in ${secondsSince(t0)}`)
      }

      texts = await text
    })
    log(
      `  inventory_text: ${texts} devices' words in ${textSeconds} (alongside the tables above), indexed by ${secondsSince(textStarted)}`,
    )
    const t1 = performance.now()
    await conn.unsafe("SET session_replication_role = 'origin'")
    await conn.unsafe('VACUUM ANALYZE')
    log(`  VACUUM ANALYZE in ${secondsSince(t1)}`)
    const [size] = (await conn.unsafe(
      'SELECT pg_size_pretty(pg_database_size(current_database())) AS size',
    )) as [{ size: string }]
    log(`copied into PostgreSQL in ${secondsSince(started)} (database ${size.size})`)
  } finally {
    conn.release()
    await pg.close()
    sqlite.close()
  }
}

/**
 * inventory_text from the attribute rows: each device's string values of the text's attributes, in
 * the order the PostgreSQL store reads them (attribute, then value byte-wise), cut as that store
 * cuts them. Answers the devices written.
 */
async function copyFreeText(sqliteFile: string, url: string): Promise<number> {
  const sqlite = new Database(sqliteFile, { readonly: true })
  const pg = new SQL({ url, max: 1 })
  const conn = await pg.reserve()
  try {
    const names = sqlite
      .query<{ id: number; scope: string; name: string }, []>(
        'SELECT id, scope, name FROM inventory_attribute_names',
      )
      .all()
    const textAttrs = names.filter(isFullText).map((n) => n.id)
    const tenants = sqlite
      .query<{ tenant_id: string }, []>('SELECT DISTINCT tenant_id FROM inventory_devices')
      .all()
    let texts = 0
    for (const { tenant_id } of tenants) {
      const values = sqlite.query<{ device: number; value: string }, [string]>(
        `SELECT device, value FROM inventory_attributes INDEXED BY inventory_attributes_device
         WHERE tenant_id = ? AND attr IN (${textAttrs.join(', ') || 'NULL'}) AND typeof(value) = 'text'
         ORDER BY device, attr, value`,
      )
      texts += await copyLines(
        conn,
        'inventory_text',
        ['seq', 'words'],
        (function* () {
          let device = -1
          let words: string[] = []
          const line = () => `${device}\t${copyText(vectorOf(words.join(' ')))}\n`
          for (const row of values.iterate(tenant_id)) {
            if (row.device !== device) {
              if (device >= 0) yield line()
              device = row.device
              words = []
            }
            words.push(row.value)
          }
          if (device >= 0) yield line()
        })(),
      )
    }
    return texts
  } finally {
    conn.release()
    await pg.close()
    sqlite.close()
  }
}

/** copyFreeText on a worker thread of this module. */
function textInWorker(sqliteFile: string, url: string): Promise<number> {
  const worker = new Worker(import.meta.path)
  return new Promise<number>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ texts?: number; error?: string }>) => {
      if (event.data.error !== undefined) reject(new Error(`free text: ${event.data.error}`))
      else resolve(event.data.texts ?? 0)
    }
    worker.onerror = (event) => reject(new Error(`free text: ${event.message}`))
    worker.postMessage({ sqliteFile, url })
  }).finally(() => worker.terminate())
}

if (!isMainThread) {
  parentPort!.once('message', ({ sqliteFile, url }: { sqliteFile: string; url: string }) => {
    copyFreeText(sqliteFile, url).then(
      (texts) => parentPort!.postMessage({ texts }),
      (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
    )
  })
} else if (import.meta.main) {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string', default: './data' }, 'database-url': { type: 'string' } },
  })
  if (!values['database-url']) throw new Error('--database-url is required')
  await copyToPostgres(join(resolve(values['data-dir']), 'bender.db'), values['database-url'])
}
