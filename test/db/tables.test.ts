import { expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { is } from 'drizzle-orm'
import { PgTable, getTableConfig as pgConfig } from 'drizzle-orm/pg-core'
import { SQLiteTable, getTableConfig as sqliteConfig } from 'drizzle-orm/sqlite-core'
import { ROOT } from '../helpers/server.ts'

/** Every `tables.ts` beside its `tables.pg.ts`, as drizzle.config.ts and drizzle.pg.config.ts find them. */
function tableModules(): { sqlite: string; pg: string }[] {
  const services = readdirSync(join(ROOT, 'src/services')).map((name) => join(ROOT, 'src/services', name))
  return [...services, join(ROOT, 'src/events')].map((dir) => ({
    sqlite: join(dir, 'tables.ts'),
    pg: join(dir, 'tables.pg.ts'),
  }))
}

type Shape = Record<string, { columns: string[]; primaryKey: string[]; indexes: string[] }>

/**
 * PostgreSQL tables without a Drizzle twin on SQLite: shared state only several instances need
 * (one SQLite process keeps it in memory), and inventory's free-text index, an FTS5 virtual table
 * of the same name on SQLite (db/migrations/0005; no Drizzle type can say it), a table with a GIN
 * index on PostgreSQL.
 */
const PG_ONLY_TABLES = new Set(['deviceauth_revocations', 'deviceconnect_open_sessions', 'inventory_text'])
/** A PostgreSQL column standing for SQLite's implicit rowid (see db/pg-columns.ts). */
const IMPLICIT_ON_SQLITE = 'rowid'

async function shapes(
  path: string,
  isTable: (value: unknown) => boolean,
  config: (table: never) => {
    name: string
    columns: { name: string; primary: boolean }[]
    primaryKeys: { columns: { name: string }[] }[]
    indexes: { config: { name: string } }[]
  },
): Promise<Shape> {
  const shape: Shape = {}
  for (const value of Object.values(await import(path))) {
    if (!isTable(value)) continue
    const table = config(value as never)
    if (PG_ONLY_TABLES.has(table.name)) continue
    shape[table.name] = {
      columns: table.columns
        .map((c) => c.name)
        .filter((c) => c !== IMPLICIT_ON_SQLITE)
        .sort(),
      primaryKey: [
        ...table.columns.filter((c) => c.primary).map((c) => c.name),
        ...table.primaryKeys.flatMap((k) => k.columns.map((c) => c.name)),
      ],
      indexes: table.indexes.map((i) => i.config.name).sort(),
    }
  }
  return shape
}

test('PostgreSQL and SQLite define the same tables, columns, keys and index names', async () => {
  let tables = 0
  for (const { sqlite, pg } of tableModules()) {
    const onSqlite = await shapes(sqlite, (v) => is(v, SQLiteTable), sqliteConfig as never)
    const onPg = await shapes(pg, (v) => is(v, PgTable), pgConfig as never)
    for (const name of PG_ONLY_TABLES) delete onPg[name]
    expect({ file: pg, ...onPg }).toEqual({ file: pg, ...onSqlite })
    tables += Object.keys(onSqlite).length
  }
  expect(tables).toBeGreaterThan(20)
})
