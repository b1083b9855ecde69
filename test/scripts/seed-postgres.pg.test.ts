import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SQL } from 'bun'
import { copyToPostgres } from '../../scripts/seed-postgres.ts'
import { loadConfig } from '../../src/config.ts'
import { buildDeps, closeDeps, type Deps, sqliteOf } from '../../src/deps.ts'
import { parseSearchBody } from '../../src/services/inventory/filters.ts'
import { STATUS_CODES } from '../../src/services/inventory/model.ts'
import { testPostgres } from '../helpers/postgres.ts'

const ROOT = resolve(import.meta.dir, '../..')
const DEVICES = 400

/** Searches of the inventory bench's shapes, over every page at once. */
const SEARCHES: unknown[] = [
  { filters: [{ scope: 'inventory', attribute: 'device_type', type: '$eq', value: 'raspberrypi4' }] },
  {
    filters: [
      { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' },
      { scope: 'inventory', attribute: 'mem_total_kB', type: '$gte', value: 1917604 },
    ],
    sort: [{ scope: 'system', attribute: 'updated_ts', order: 'desc' }],
  },
  {
    filters: [{ scope: 'inventory', attribute: 'network_interfaces', type: '$eq', value: 'wlan0' }],
    sort: [{ scope: 'inventory', attribute: 'hostname', order: 'asc' }],
  },
  {
    filters: [{ scope: 'system', attribute: 'group', type: '$eq', value: 'production' }],
    sort: [{ scope: 'system', attribute: 'check_in_time', order: 'desc' }],
  },
  { text: 'jetson-nano', sort: [{ scope: 'inventory', attribute: 'hostname', order: 'desc' }] },
  { text: 'production Debian' },
]

describe('a seeded SQLite data dir copied into PostgreSQL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bender-seed-pg-'))
  let url: string
  let sqlite: Deps
  let postgres: Deps

  beforeAll(async () => {
    const seeded = Bun.spawnSync(
      [process.execPath, 'scripts/seed.ts', '--data-dir', dataDir, '--devices', String(DEVICES), '--tokens'],
      { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' },
    )
    if (seeded.exitCode !== 0) throw new Error(seeded.stderr.toString())
    url = await (await testPostgres()).createDatabase()
    await copyToPostgres(join(dataDir, 'bender.db'), url, () => {})
    const env = { BENDER_DATA_DIR: dataDir, BENDER_LOG_LEVEL: 'error' }
    sqlite = await buildDeps(loadConfig(env))
    postgres = await buildDeps(loadConfig({ ...env, BENDER_DATABASE_URL: url }))
  }, 60_000)

  afterAll(async () => {
    await closeDeps(sqlite)
    await closeDeps(postgres)
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('every table holds the same rows, and each device its free text', async () => {
    const pg = new SQL(url, { max: 1 })
    try {
      const tables = sqliteOf(sqlite)
        .$client.query<{ name: string }, []>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'inventory_text%' AND name NOT LIKE '%sqlite%' AND name NOT LIKE '__drizzle%'",
        )
        .all()
      for (const { name } of tables) {
        const { n } = sqliteOf(sqlite)
          .$client.query<{ n: number }, []>(`SELECT count(*) AS n FROM "${name}"`)
          .get()!
        const [row] = (await pg.unsafe(`SELECT count(*)::int AS n FROM "${name}"`)) as [{ n: number }]
        expect({ name, n: row.n }).toEqual({ name, n })
      }
      const [text] = (await pg.unsafe(
        "SELECT count(*)::int AS n, count(*) FILTER (WHERE words = ''::tsvector)::int AS empty FROM inventory_text",
      )) as [{ n: number; empty: number }]
      expect(text).toEqual({ n: DEVICES, empty: 0 })
      // Values keep their kind and times their instant.
      const [kinds] = (await pg.unsafe(
        "SELECT count(*) FILTER (WHERE jsonb_typeof(value) = 'number')::int AS numbers, count(*) FILTER (WHERE jsonb_typeof(value) = 'string')::int AS strings FROM inventory_attributes",
      )) as [{ numbers: number; strings: number }]
      const expected = sqliteOf(sqlite)
        .$client.query<{ numbers: number; strings: number }, []>(
          "SELECT sum(typeof(value) IN ('integer', 'real')) AS numbers, sum(typeof(value) = 'text') AS strings FROM inventory_attributes",
        )
        .get()!
      expect(kinds).toEqual(expected)
      const token = sqliteOf(sqlite)
        .$client.query<{ id: string; expires_ts: number }, []>(
          'SELECT id, expires_ts FROM deviceauth_tokens LIMIT 1',
        )
        .get()!
      const [copied] = (await pg.unsafe('SELECT expires_ts FROM deviceauth_tokens WHERE id = $1', [
        token.id,
      ])) as [{ expires_ts: Date }]
      expect(copied.expires_ts.getTime()).toBe(token.expires_ts)
    } finally {
      await pg.close()
    }
  })

  test('searches, filters and free text alike, find the same devices in the same order on both engines', async () => {
    for (const body of SEARCHES) {
      const request = parseSearchBody({ page: 1, per_page: 500, ...(body as object) })
      const onSqlite = await sqlite.stores.inventorySearch.search('', request)
      const onPostgres = await postgres.stores.inventorySearch.search('', request)
      expect(onSqlite.total).toBeGreaterThan(0)
      expect({ body, total: onPostgres.total, ids: onPostgres.devices.map((d) => d.id) }).toEqual({
        body,
        total: onSqlite.total,
        ids: onSqlite.devices.map((d) => d.id),
      })
    }
  })

  test('every identity sequence stands past the copied keys, so new rows get new ones', async () => {
    const pg = new SQL(url, { max: 1 })
    try {
      const columns = (await pg.unsafe(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'",
      )) as { table_name: string; column_name: string }[]
      let checked = 0
      for (const { table_name: table, column_name: column } of columns) {
        const [row] = (await pg.unsafe(
          `SELECT (SELECT max("${column}")::int FROM "${table}") AS max, nextval(pg_get_serial_sequence($1, $2))::int AS next`,
          [table, column],
        )) as [{ max: number | null; next: number }]
        if (row.max === null) continue
        checked++
        expect({ table, column, past: row.next > row.max }).toEqual({ table, column, past: true })
      }
      expect(checked).toBeGreaterThanOrEqual(3)
      await postgres.stores.inventory.writeIdentity(
        '',
        'after-the-copy',
        [{ name: 'mac', value: '02:ff:ff:ff:ff:ff' }],
        STATUS_CODES.accepted,
        new Date(),
      )
      const [text] = (await pg.unsafe(
        "SELECT count(*)::int AS n FROM inventory_text t JOIN inventory_devices d ON d.seq = t.seq WHERE d.id = 'after-the-copy'",
      )) as [{ n: number }]
      expect(text.n).toBe(1)
    } finally {
      await pg.close()
    }
  })
})
