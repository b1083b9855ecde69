import { and, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import type { SearchRequest } from './filters.ts'
import { DEVICE_ID, type NameRow } from './names.ts'
import { type Described, describeFilter, type Matching, prefixEnd, splitStatusFilters } from './predicates.ts'
import { renderPgDevices } from './render.pg.ts'
import { predicateSql } from './search.pg.sql.ts'
import { findPgName } from './store.rows.pg.ts'
import type { InventorySearchStore } from './store.search.ts'
import { attributeNames, attributes, numberOf, STRING_KEY_CHARS, stringKeyOf, stringOf } from './tables.pg.ts'
import { queryOf } from './text.words.ts'

/*
 * Device searches on PostgreSQL. Unlike SQLite's (search.ts), nothing is planned by hand: one
 * statement states the search (the status partition, an EXISTS or NOT EXISTS per filter, the
 * free text through the GIN index, the sort keys per device) and PostgreSQL's planner picks the
 * indexes and join order from its statistics. The semantics are the same, decided once in
 * predicates.ts; values compare and sort in SQLite's order (null, numbers, strings byte-wise).
 */

type Found = { dev: string | number; total: string | number }

const statusList = (statuses: readonly number[]) => sql.raw(statuses.join(', '))

/** The table of an attribute's rows: the check-in times (name `checkIns`) have their own (see tables.ts). */
const rowsOf = (attr: number, checkIns: number | undefined) =>
  sql.raw(attr === checkIns ? 'inventory_check_ins' : 'inventory_attributes')

export function createPgInventorySearchStore(db: PgDatabase): InventorySearchStore {
  /** A name's row; `identity/id` is the device id, kept under the hidden attribute. */
  async function stored(tenantId: string, scope: string, name: string): Promise<NameRow | undefined> {
    const [key, attr] =
      scope === 'identity' && name === 'id' ? [DEVICE_ID.scope, DEVICE_ID.name] : [scope, name]
    return findPgName(db, tenantId, key, attr)
  }

  const checkInsOf = (tenantId: string) => stored(tenantId, 'system', 'check_in_time')

  /** The distinct stored strings of `attr` in `statuses` starting with `prefix`. */
  async function strings(tenantId: string, statuses: readonly number[], attr: number, prefix: string) {
    const v = attributes.value
    const table = rowsOf(attr, (await checkInsOf(tenantId))?.id)
    const rows = await db.execute<{
      v: string
    }>(sql`SELECT DISTINCT ${stringOf(v)} AS v FROM ${table} "inventory_attributes"
      WHERE tenant_id = ${tenantId} AND attr = ${attr} AND status IN (${statusList(statuses)})
      AND ${numberOf(v)} IS NULL AND ${stringKeyOf(v)} >= left(${prefix}, ${sql.raw(String(STRING_KEY_CHARS))})
      AND ${stringOf(v)} >= ${prefix} AND ${stringOf(v)} < ${prefixEnd(prefix)}`)
    return rows.map((row) => row.v)
  }

  /**
   * Each filter decided. A `$regex` needs the attribute's stored strings, read here beforehand:
   * a first pass notes what each asks for, the second answers from what was read.
   */
  async function describe(tenantId: string, request: SearchRequest, statuses: readonly number[]) {
    const { others } = splitStatusFilters(request.filters)
    const refs = await Promise.all(others.map((f) => stored(tenantId, f.scope, f.name)))
    const asked: Parameters<Matching>[] = []
    for (const [i, f] of others.entries()) {
      describeFilter(f, refs[i], (...args) => {
        asked.push(args)
        return []
      })
    }
    const read = await Promise.all(asked.map(([attr, , prefix]) => strings(tenantId, statuses, attr, prefix)))
    let next = 0
    const matching: Matching = (_attr, regex) => read[next++]!.filter((value) => regex.test(value))
    return others.map((f, i) => describeFilter(f, refs[i], matching))
  }

  /** The WHERE of a search over devices `"d"`: its tenant, statuses, filters and free text. */
  function whereOf(
    tenantId: string,
    statuses: readonly number[],
    described: Described[],
    text: string | undefined,
    checkIns: number | undefined,
  ): SQL {
    const parts = [sql`"d".tenant_id = ${tenantId} AND "d".status IN (${statusList(statuses)})`]
    for (const [k, d] of described.entries()) {
      if (d.kind !== 'rows') continue
      const alias = `c${k}`
      const a = sql.raw(`"${alias}"`)
      // A check-in time is a string, never an array.
      const wholeArray = d.attr.id === checkIns && d.predicate.kind === 'array'
      const exists = wholeArray
        ? sql`FALSE`
        : sql`EXISTS (SELECT 1 FROM ${rowsOf(d.attr.id, checkIns)} ${a} WHERE ${a}.tenant_id = ${tenantId}
        AND ${a}.device = "d".seq AND ${a}.attr = ${d.attr.id} AND ${a}.status IN (${statusList(statuses)})
        AND ${predicateSql(d.predicate, alias, tenantId, d.attr.id)})`
      parts.push(d.negate ? sql`NOT ${exists}` : exists)
    }
    if (text !== undefined)
      parts.push(sql`"d".seq IN (SELECT "t".seq FROM inventory_text "t" WHERE "t".words @@ ${text}::tsquery)`)
    return sql.join(parts, sql` AND `)
  }

  /**
   * Each sort key as a device's smallest value ascending (largest descending), in a lateral join
   * `"k<n>"` with its number and string; the ORDER BY puts missing values first ascending and last
   * descending, numbers before strings, ties by device age in the first key's direction.
   */
  async function sortOf(
    tenantId: string,
    request: SearchRequest,
    checkIns: number | undefined,
  ): Promise<{ joins: SQL; order: SQL }> {
    const joins: SQL[] = []
    const order: SQL[] = []
    for (const [k, key] of request.sort.entries()) {
      const attr = (await stored(tenantId, key.scope, key.name))?.id
      // No device has it: every value is missing, the key orders nothing.
      if (attr === undefined) continue
      const agg = sql.raw(key.desc ? 'max' : 'min')
      const dir = sql.raw(key.desc ? 'DESC' : 'ASC')
      const [j, s] = [sql.raw(`"k${k}"`), sql.raw(`"s${k}"`)]
      joins.push(sql` CROSS JOIN LATERAL (SELECT ${agg}(${numberOf(sql`${s}.value`)}) AS n, ${agg}(${stringOf(sql`${s}.value`)}) AS s
        FROM ${rowsOf(attr, checkIns)} ${s} WHERE ${s}.tenant_id = ${tenantId} AND ${s}.device = "d".seq AND ${s}.attr = ${attr}) ${j}`)
      order.push(
        sql`(CASE WHEN ${j}.n IS NOT NULL THEN 1 WHEN ${j}.s IS NOT NULL THEN 2 ELSE 0 END) ${dir}, ${j}.n ${dir}, ${j}.s ${dir}`,
      )
    }
    order.push(sql`"d".seq ${sql.raw(request.sort[0]?.desc ? 'DESC' : 'ASC')}`)
    return { joins: sql.join(joins), order: sql.join(order, sql`, `) }
  }

  /** The attribute ids a request shows (with `system/updated_ts`), or undefined for all. */
  async function projection(tenantId: string, request: SearchRequest): Promise<number[] | undefined> {
    if (!request.attributes) return undefined
    const wanted = [...request.attributes, { scope: 'system', name: 'updated_ts' }]
    const rows = await db
      .select({ id: attributeNames.id, scope: attributeNames.scope, name: attributeNames.name })
      .from(attributeNames)
      .where(
        and(
          eq(attributeNames.tenantId, tenantId),
          inArray(
            attributeNames.name,
            wanted.map((w) => w.name),
          ),
        ),
      )
    return rows
      .filter((row) => wanted.some((w) => w.scope === row.scope && w.name === row.name))
      .map((row) => row.id)
  }

  return {
    async search(tenantId, request) {
      const { statuses } = splitStatusFilters(request.filters)
      const described = statuses.length === 0 ? [] : await describe(tenantId, request, statuses)
      const text = request.text && queryOf(request.text)
      if (statuses.length === 0 || described.some((d) => d.kind === 'none') || (request.text && !text))
        return { devices: [], total: 0 }
      const checkIns = (await checkInsOf(tenantId))?.id
      const where = whereOf(tenantId, statuses, described, text, checkIns)
      const { joins, order } = await sortOf(tenantId, request, checkIns)
      const offset = (request.page - 1) * request.perPage
      const rows = await db.execute<Found>(sql`SELECT "d".seq AS dev, count(*) OVER () AS total
        FROM inventory_devices "d" ${joins} WHERE ${where} ORDER BY ${order} LIMIT ${request.perPage} OFFSET ${offset}`)
      let total = Number(rows[0]?.total ?? 0)
      if (rows.length === 0 && offset > 0) {
        const [row] = await db.execute<{ n: string | number }>(
          sql`SELECT count(*) AS n FROM inventory_devices "d" WHERE ${where}`,
        )
        total = Number(row?.n ?? 0)
      }
      const seqs = rows.map((row) => Number(row.dev))
      return {
        devices: await renderPgDevices(db, tenantId, seqs, await projection(tenantId, request)),
        total,
      }
    },
    // Nothing is held between searches: the pool belongs to the engine.
    stop() {},
  }
}
