import { and, eq, inArray, type SQL, sql } from 'drizzle-orm'
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import type { Database } from '../../../db/client.ts'
import { type Condition, matchesScalar, prefixEnd, type Resolved, resolveFilter } from './conditions.ts'
import type { Filter, SearchRequest, SortKey } from './filters.ts'
import { ALL_STATUS_CODES, type Device, STATUS_CODES } from './model.ts'
import { type NameLookup, renderDevices } from './render.ts'
import { DEVICE_ID, type NameRow } from './store.ts'
import { attributeCounts, attributeNames } from './tables.ts'

/*
 * How a search runs over a million devices (2 filters + sort + total in tens of milliseconds).
 *
 * Rows: one per attribute value, indexed by (tenant, attribute, status, value, device) and by
 * (tenant, device, attribute, value); both cover every read, so no query touches the table.
 *
 * 1. The status is a partition, not a filter: `identity/status` predicates are decided in
 *    JavaScript against the five statuses and become `status IN (...)` on every index range, so
 *    the usual "accepted devices where X" is one range, counted at ~30 ns a row.
 * 2. Each other filter is one index range (`$gt: 5` is the numbers above 5, `$in` a few seeks,
 *    `$regex` the distinct values that match). Its size is estimated by counting its range with
 *    a cap; the smallest range drives, and every other filter is checked per driving row either
 *    by an EXISTS probe into the by-device index (~1 us) or, when its own range is small enough
 *    relative to the driver, by membership in a list SQLite builds once (~0.1 us a row).
 *    Negated filters ($ne, $nin, $exists false) are the same checks inverted, so devices lacking
 *    the attribute match, as in Mongo.
 * 3. The total is a count over that plan (or a stored per-status count when nothing filters).
 * 4. The page: either walk the first sort key's index range in order, probing the filters, and
 *    stop after offset+limit devices (cheap when matches are common), or collect every match and
 *    sort it (cheap when they are few); the estimated costs decide. Arrays sort by their smallest
 *    element ascending and their largest descending; devices lacking the key sort first ascending
 *    and last descending; ties go by device age (oldest first ascending, newest first descending).
 *
 * SQLite's own planner is not trusted with these choices: every range names its index (INDEXED
 * BY) and membership tests are written so they cannot be turned into seeks (`+device IN`).
 */

const dialect = new SQLiteSyncDialect({ casing: 'snake_case' })

/** Rows counted to estimate a filter's size; beyond it the per-status totals bound it. */
const ESTIMATE_CAP = 50_000
/** Microseconds, measured: a probe into an index, a row through a membership list or a sorter. */
const PROBE_US = 0.8
const LIST_US = 0.1
const SORT_US = 0.5
/** Distinct values tested one seek at a time before a `$regex` reads its whole range instead. */
const SEEK_DISTINCT_LIMIT = 1000

const STATUS_BY_CODE = new Map<number, string>(
  Object.entries(STATUS_CODES).map(([name, code]) => [code, name]),
)

type Plan = {
  statuses: number[]
  /** Conditions ordered for execution; `driver` (when set) is conditions[0]. */
  driver: Condition | undefined
  others: { condition: Condition; asList: boolean }[]
  /** Estimated rows of the driver (or devices in the statuses). */
  driverRows: number
}

export function createDeviceSearch(db: Database) {
  const sqlite = db.$client
  const byId = new Map<number, NameRow>()

  const run = (query: SQL) => {
    const { sql: text, params } = dialect.sqlToQuery(query)
    return { statement: sqlite.query(text), params: params as (string | number | null)[] }
  }
  const all = <T>(query: SQL): T[] => {
    const { statement, params } = run(query)
    return statement.all(...params) as T[]
  }
  const get = <T>(query: SQL): T | undefined => {
    const { statement, params } = run(query)
    return (statement.get(...params) as T | null) ?? undefined
  }

  /** Names by id never change once created: cached for good. Flags (`arrays`) are read fresh. */
  const names: NameLookup = (ids) => {
    const out = new Map<number, NameRow>()
    const missing: number[] = []
    for (const id of ids) {
      const row = byId.get(id)
      if (row) out.set(id, row)
      else missing.push(id)
    }
    if (missing.length > 0) {
      for (const row of db.select().from(attributeNames).where(inArray(attributeNames.id, missing)).all()) {
        byId.set(row.id, row)
        out.set(row.id, row)
      }
    }
    return out
  }

  const findName = (tenantId: string, scope: string, name: string) =>
    db
      .select()
      .from(attributeNames)
      .where(
        and(
          eq(attributeNames.tenantId, tenantId),
          eq(attributeNames.scope, scope),
          eq(attributeNames.name, name),
        ),
      )
      .get()

  const stored = (tenantId: string, scope: string, name: string) =>
    scope === 'identity' && name === 'id'
      ? findName(tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      : findName(tenantId, scope, name)

  /** Devices per status having `attr` (the hidden id attribute: all devices). */
  function countsOf(tenantId: string, attr: number | undefined, statuses: readonly number[]): number {
    if (attr === undefined) return 0
    const rows = db
      .select({ status: attributeCounts.status, devices: attributeCounts.devices })
      .from(attributeCounts)
      .where(and(eq(attributeCounts.tenantId, tenantId), eq(attributeCounts.attr, attr)))
      .all()
    return rows.filter((row) => statuses.includes(row.status)).reduce((sum, row) => sum + row.devices, 0)
  }

  const statusList = (statuses: readonly number[]) =>
    sql.raw(statuses.length > 0 ? statuses.join(', ') : 'NULL')

  /** The index range of one condition's rows under `alias` (positive form). */
  const rangeOf = (tenantId: string, c: Condition, statuses: readonly number[], alias: string) =>
    sql`${sql.raw(`"${alias}"`)}.tenant_id = ${tenantId} AND ${sql.raw(`"${alias}"`)}.attr = ${c.attr}
      AND ${sql.raw(`"${alias}"`)}.status IN (${statusList(statuses)}) AND ${c.where(alias)}`

  /** Whether the device `dev` (SQL) passes condition `c`, as a probe or as list membership. */
  function check(
    tenantId: string,
    c: Condition,
    statuses: readonly number[],
    dev: SQL,
    asList: boolean,
    k: number,
  ) {
    const alias = `c${k}`
    const test = asList
      ? sql`+${dev} IN (SELECT "${sql.raw(alias)}".device FROM inventory_attributes "${sql.raw(alias)}"
          INDEXED BY inventory_attributes_value WHERE ${rangeOf(tenantId, c, statuses, alias)})`
      : sql`EXISTS (SELECT 1 FROM inventory_attributes "${sql.raw(alias)}" INDEXED BY inventory_attributes_device
          WHERE "${sql.raw(alias)}".tenant_id = ${tenantId} AND "${sql.raw(alias)}".device = ${dev}
          AND "${sql.raw(alias)}".attr = ${c.attr} AND ${c.where(alias)})`
    return c.negate ? sql`NOT ${test}` : test
  }

  /** Every check but the driver's, ANDed, for device expression `dev`. */
  const checks = (tenantId: string, plan: Plan, dev: SQL, offset = 0) =>
    plan.others.map(
      (o, i) => sql` AND ${check(tenantId, o.condition, plan.statuses, dev, o.asList, i + offset)}`,
    )

  function estimate(tenantId: string, c: Condition, statuses: readonly number[]): number {
    const row = get<{ n: number }>(sql`SELECT count(*) AS n FROM (SELECT 1 FROM inventory_attributes "e"
      INDEXED BY inventory_attributes_value WHERE ${rangeOf(tenantId, c, statuses, 'e')} LIMIT ${ESTIMATE_CAP})`)
    const n = row?.n ?? 0
    return n < ESTIMATE_CAP ? n : Math.max(n, countsOf(tenantId, c.attr, statuses))
  }

  /** Distinct stored strings of `attr` starting with `prefix` that `regex` matches. */
  function matching(tenantId: string, statuses: readonly number[]) {
    return (attr: number, regex: RegExp, prefix: string): (string | number)[] => {
      const lo = prefix
      const hi = prefix ? prefixEnd(prefix) : '\u{10FFFF}'
      const found = new Set<string>()
      for (const status of statuses) {
        const inRange = sql`tenant_id = ${tenantId} AND attr = ${attr} AND status = ${status}
          AND value >= ${lo} AND value < ${hi}`
        let seeks = 0
        let row = get<{
          value: string
        }>(sql`SELECT value FROM inventory_attributes INDEXED BY inventory_attributes_value
          WHERE ${inRange} ORDER BY value LIMIT 1`)
        while (row && seeks++ < SEEK_DISTINCT_LIMIT) {
          if (regex.test(row.value)) found.add(row.value)
          row = get(sql`SELECT value FROM inventory_attributes INDEXED BY inventory_attributes_value
            WHERE ${inRange} AND value > ${row.value} ORDER BY value LIMIT 1`)
        }
        if (!row) continue
        // Many distinct values: read the rest of the range once instead of seeking each.
        const { statement, params } = run(sql`SELECT DISTINCT value FROM inventory_attributes
          INDEXED BY inventory_attributes_value WHERE ${inRange} AND value >= ${row.value}`)
        for (const rest of statement.iterate(...params) as Iterable<{ value: string }>) {
          if (regex.test(rest.value)) found.add(rest.value)
        }
      }
      return [...found]
    }
  }

  /** Statuses left after the status filters, and every other filter resolved. */
  function resolve(tenantId: string, filters: readonly Filter[]) {
    let statuses = [...ALL_STATUS_CODES]
    const resolved: Resolved[] = []
    for (const filter of filters) {
      if (filter.scope === 'identity' && filter.name === 'status') {
        statuses = statuses.filter((code) =>
          matchesScalar(filter, code === 0 ? undefined : STATUS_BY_CODE.get(code)),
        )
      }
    }
    for (const filter of filters) {
      if (filter.scope === 'identity' && filter.name === 'status') continue
      const attribute = stored(tenantId, filter.scope, filter.name)
      resolved.push(resolveFilter(filter, tenantId, attribute, matching(tenantId, statuses)))
    }
    return { statuses, resolved }
  }

  function plan(tenantId: string, statuses: number[], conditions: Condition[]): Plan {
    const positive = conditions
      .filter((c) => !c.negate)
      .map((c) => ({ c, rows: estimate(tenantId, c, statuses) }))
      .sort((a, b) => a.rows - b.rows)
    const driver = positive[0]
    const driverRows = driver ? driver.rows : countsOf(tenantId, idAttr(tenantId), statuses)
    const rest = [...positive.slice(1).map((p) => p.c), ...conditions.filter((c) => c.negate)]
    const others = rest.map((condition) => {
      // A list costs building its rows once; a probe costs one seek per driving row.
      const rows = condition.negate ? estimate(tenantId, condition, statuses) : undefined
      const listRows = rows ?? positive.find((p) => p.c === condition)!.rows
      return { condition, asList: listRows * LIST_US + driverRows * LIST_US < driverRows * PROBE_US }
    })
    return { statuses, driver: driver?.c, others, driverRows }
  }

  const idAttr = (tenantId: string) => findName(tenantId, DEVICE_ID.scope, DEVICE_ID.name)?.id

  /** `SELECT dev FROM <every matching device>`, one row per device. */
  function candidates(tenantId: string, p: Plan): SQL {
    if (!p.driver) {
      return sql`SELECT "dv".seq AS dev FROM inventory_devices "dv" INDEXED BY inventory_devices_status
        WHERE "dv".tenant_id = ${tenantId} AND "dv".status IN (${statusList(p.statuses)})
        ${sql.join(checks(tenantId, p, sql.raw('"dv".seq')))}`
    }
    const distinct = p.driver.arrays ? sql`DISTINCT` : sql``
    return sql`SELECT ${distinct} "d".device AS dev FROM inventory_attributes "d" INDEXED BY inventory_attributes_value
      WHERE ${rangeOf(tenantId, p.driver, p.statuses, 'd')} ${sql.join(checks(tenantId, p, sql.raw('"d".device')))}`
  }

  function total(tenantId: string, p: Plan): number {
    if (!p.driver && p.others.length === 0) return p.driverRows
    const only = p.others[0]?.condition
    if (!p.driver && p.others.length === 1 && only) {
      // One negated filter alone: every device in the statuses but those matching its positive form.
      const positive: Plan = { ...p, driver: { ...only, negate: false }, others: [] }
      return (
        p.driverRows -
        (get<{ n: number }>(sql`SELECT count(*) AS n FROM (${candidates(tenantId, positive)})`)?.n ?? 0)
      )
    }
    return get<{ n: number }>(sql`SELECT count(*) AS n FROM (${candidates(tenantId, p)})`)?.n ?? 0
  }

  /** The sort value of `dev` for one key: its smallest element ascending, largest descending. */
  const sortValue = (
    tenantId: string,
    key: { attr: number | undefined; desc: boolean },
    dev: SQL,
    k: number,
  ) =>
    key.attr === undefined
      ? sql`NULL`
      : sql`(SELECT ${sql.raw(key.desc ? 'max' : 'min')}("s${sql.raw(String(k))}".value)
          FROM inventory_attributes "s${sql.raw(String(k))}" INDEXED BY inventory_attributes_device
          WHERE "s${sql.raw(String(k))}".tenant_id = ${tenantId} AND "s${sql.raw(String(k))}".device = ${dev}
          AND "s${sql.raw(String(k))}".attr = ${key.attr})`

  /** Collect every match, sort, slice: right for any query, cheap when matches are few. */
  function pageBySorting(
    tenantId: string,
    p: Plan,
    keys: SortKeyRef[],
    offset: number,
    limit: number,
  ): number[] {
    const dir = keys[0]?.desc ? sql.raw('DESC') : sql.raw('ASC')
    const order = keys.map(
      (key, k) => sql`${sortValue(tenantId, key, sql.raw('dev'), k)} ${sql.raw(key.desc ? 'DESC' : 'ASC')}`,
    )
    order.push(sql`dev ${dir}`)
    return all<{ dev: number }>(sql`SELECT dev FROM (${candidates(tenantId, p)})
      ORDER BY ${sql.join(order, sql`, `)} LIMIT ${limit} OFFSET ${offset}`).map((row) => row.dev)
  }

  /** The plan with every condition (the driver's too) checked by probes: for walks. */
  function probingEverything(p: Plan): Plan {
    const conditions = [...(p.driver ? [p.driver] : []), ...p.others.map((o) => o.condition)]
    return { ...p, driver: undefined, others: conditions.map((condition) => ({ condition, asList: false })) }
  }

  /** No sort: devices in age order, walking the devices table and probing every filter. */
  function pageByAge(tenantId: string, p: Plan, offset: number, limit: number): number[] {
    const walk = probingEverything(p)
    return all<{ seq: number }>(sql`SELECT "dv".seq AS seq FROM inventory_devices "dv" NOT INDEXED
      WHERE "dv".tenant_id = ${tenantId} AND "dv".status IN (${statusList(p.statuses)})
      ${sql.join(checks(tenantId, walk, sql.raw('"dv".seq')))} ORDER BY "dv".seq LIMIT ${limit} OFFSET ${offset}`).map(
      (row) => row.seq,
    )
  }

  /**
   * Walk the first sort key's rows in order (one ordered range per status, merged by SQLite),
   * probing every filter, until offset+limit devices and the whole tie group of the last one are
   * in; further keys then sort that prefix in JavaScript.
   */
  function pageByWalking(tenantId: string, p: Plan, keys: SortKeyRef[], offset: number, limit: number) {
    const [first, ...rest] = keys as [SortKeyRef & { attr: number }, ...SortKeyRef[]]
    const dir = sql.raw(first.desc ? 'DESC' : 'ASC')
    const walk = probingEverything(p)
    const arms = p.statuses.map(
      (status) => sql`SELECT "w".value AS v, "w".device AS dev FROM inventory_attributes "w"
        INDEXED BY inventory_attributes_value WHERE "w".tenant_id = ${tenantId} AND "w".attr = ${first.attr}
        AND "w".status = ${status} ${sql.join(checks(tenantId, walk, sql.raw('"w".device')))}`,
    )
    const { statement, params } = run(
      sql`SELECT v, dev FROM (${sql.join(arms, sql` UNION ALL `)}) ORDER BY v ${dir}, dev ${dir}`,
    )
    const want = offset + limit
    const seen = new Set<number>()
    const order: { dev: number; v: unknown }[] = []
    for (const row of statement.iterate(...params) as Iterable<{ v: string | number | null; dev: number }>) {
      if (seen.has(row.dev)) continue
      if (order.length >= want && (rest.length === 0 || row.v !== order[order.length - 1]!.v)) break
      seen.add(row.dev)
      order.push({ dev: row.dev, v: row.v })
    }
    if (rest.length > 0) sortTies(tenantId, order, rest, first.desc)
    return order.slice(offset, want).map((row) => row.dev)
  }

  /** Orders walked devices by the remaining sort keys within equal first-key values. */
  function sortTies(
    tenantId: string,
    order: { dev: number; v: unknown }[],
    keys: SortKeyRef[],
    desc: boolean,
  ) {
    const values = keys.map((key) => {
      if (key.attr === undefined) return new Map<number, unknown>()
      const rows = all<{
        dev: number
        v: unknown
      }>(sql`SELECT device AS dev, ${sql.raw(key.desc ? 'max' : 'min')}(value) AS v
        FROM inventory_attributes INDEXED BY inventory_attributes_device WHERE tenant_id = ${tenantId}
        AND device IN (SELECT value FROM json_each(${JSON.stringify(order.map((o) => o.dev))}))
        AND attr = ${key.attr} GROUP BY device`)
      return new Map(rows.map((row) => [row.dev, row.v]))
    })
    const position = new Map(order.map((o, i) => [o.dev, i]))
    order.sort((a, b) => {
      if (a.v !== b.v) return position.get(a.dev)! - position.get(b.dev)!
      for (const [k, key] of keys.entries()) {
        const cmp = compareStored(values[k]!.get(a.dev), values[k]!.get(b.dev))
        if (cmp !== 0) return key.desc ? -cmp : cmp
      }
      return desc ? b.dev - a.dev : a.dev - b.dev
    })
  }

  type SortKeyRef = { attr: number | undefined; desc: boolean }

  return {
    names,

    /** One page of matching devices (rendered) and how many match in all. */
    search(tenantId: string, request: SearchRequest): { devices: Device[]; total: number } {
      const { statuses, resolved } = resolve(tenantId, request.filters)
      if (statuses.length === 0 || resolved.some((r) => r.kind === 'none')) return { devices: [], total: 0 }
      const conditions = resolved.flatMap((r) => (r.kind === 'rows' ? [r.condition] : []))
      const p = plan(tenantId, statuses, conditions)
      const count = total(tenantId, p)
      const offset = (request.page - 1) * request.perPage
      const limit = request.perPage
      if (count === 0 || offset >= count) return { devices: [], total: count }
      const keys = request.sort.map((key: SortKey) => ({
        attr: stored(tenantId, key.scope, key.name)?.id,
        desc: key.desc,
      }))
      const seqs = choosePage(tenantId, p, keys, count, offset, limit)
      return { devices: render(tenantId, seqs, request), total: count }
    },
  }

  function choosePage(
    tenantId: string,
    p: Plan,
    keys: SortKeyRef[],
    count: number,
    offset: number,
    limit: number,
  ) {
    const inStatuses = countsOf(tenantId, idAttr(tenantId), p.statuses)
    const checksPerRow = p.others.length + (p.driver ? 1 : 0)
    const sorting = count * (keys.length * PROBE_US + SORT_US)
    // Rows a walk must read to find offset+limit matches, at the observed match rate.
    const walked = ((offset + limit) * inStatuses) / count
    if (keys.length === 0) {
      return walked * checksPerRow * PROBE_US < sorting
        ? pageByAge(tenantId, p, offset, limit)
        : pageBySorting(tenantId, p, keys, offset, limit)
    }
    const first = keys[0]!
    // Devices lacking the first key sort first ascending: the walk would miss them.
    const missing =
      first.attr === undefined ? inStatuses : inStatuses - countsOf(tenantId, first.attr, p.statuses)
    const canWalk = first.attr !== undefined && (missing === 0 || first.desc)
    if (canWalk && walked * (checksPerRow + 0.1) * PROBE_US < sorting) {
      const page = pageByWalking(tenantId, p, keys, offset, limit)
      // Descending, devices lacking the key come last: when the walk ran out, sort instead.
      if (page.length === Math.min(limit, count - offset) || missing === 0) return page
    }
    return pageBySorting(tenantId, p, keys, offset, limit)
  }

  function render(tenantId: string, seqs: number[], request: SearchRequest): Device[] {
    if (!request.attributes) return renderDevices(db, names, tenantId, seqs)
    const wanted = [...request.attributes, { scope: 'system', name: 'updated_ts' }]
    const projection = wanted.flatMap((s) => {
      const found = findName(tenantId, s.scope, s.name)
      return found ? [found.id] : []
    })
    return renderDevices(db, names, tenantId, seqs, projection)
  }
}

/** Mongo's order of stored values: missing, then numbers, then strings. */
function compareStored(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (v === undefined || v === null ? 0 : typeof v === 'number' ? 1 : 2)
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  if (ra === 0) return 0
  return (a as string | number) < (b as string | number)
    ? -1
    : (a as string | number) > (b as string | number)
      ? 1
      : 0
}

export type DeviceSearch = ReturnType<typeof createDeviceSearch>
