import { and, eq, inArray, type SQL, sql } from 'drizzle-orm'
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import type { Database } from '../../../db/client.ts'
import { type Condition, matchesScalar, prefixEnd, type Resolved, resolveFilter } from './conditions.ts'
import type { Filter, SearchRequest } from './filters.ts'
import { ALL_STATUS_CODES, type Device, STATUS_CODES } from './model.ts'
import type { NameRow } from './names.ts'
import { DEVICE_ID } from './names.ts'
import { type NameLookup, renderDevices } from './render.ts'
import {
  type Check,
  candidates,
  lackingDevices,
  rangeOf,
  type Scope,
  type SortRef,
  sorted,
  walkAge,
  walkSortKey,
} from './search.sql.ts'
import { attributeCounts, attributeNames } from './tables.ts'
import { textCondition } from './text.ts'

/*
 * How a search runs over a million devices: 2 filters + sort + total in tens of milliseconds.
 *
 * Rows: one per attribute value, indexed by (tenant, attribute, status, value, device) and by
 * (tenant, device, attribute, value). Both cover every search read: no query touches the table.
 *
 * 1. The status is a partition, not a filter: `identity/status` predicates are decided in
 *    JavaScript against the five statuses and become `status IN (...)` on every index range, so
 *    the usual "accepted devices where X" is one range, counted at ~30 ns a row.
 * 2. Every other filter is one index range (`$gt: 5` is the numbers above 5, `$in` a few seeks,
 *    `$regex` the distinct values that match). The smallest range drives: they are counted
 *    under a cap raised until one finishes. Each other filter is checked per driving row, by a
 *    probe into the by-device index (~1 us) or, when its range is small next to the driver's, by
 *    membership in a list SQLite builds once (~0.2 us a row to build, ~0.15 us to check).
 *    Negated filters ($ne, $nin, $exists false) are the same checks inverted, so devices lacking
 *    the attribute match, as in Mongo.
 * 3. The total: a driver counted to its end is its own total; no filter is the status total and a
 *    lone negated filter that total minus its positive form (the totals are kept in a table);
 *    otherwise the plan is counted. When few matches are expected, the page is sorted and the
 *    total counted in the same statement.
 * 4. The page, chosen on estimated cost: walk the first sort key's index in order (or the devices
 *    in age order without a sort), probing the filters, and stop when the page is full; that is
 *    a few hundred probes when matches are common and the order does not correlate with them.
 *    The walk has a budget of rows; when it runs out (matches rare early in the order, e.g.
 *    hostnames that start with the device type filtered on) or sorting is cheaper (few matches),
 *    every match is sorted instead, its sort values probed per device.
 *
 * Arrays sort by their smallest element ascending and largest descending; devices lacking the
 * key come first ascending and last descending; ties go by device age in the first key's
 * direction. SQLite's planner is not trusted with any of this (it has no statistics here): every
 * range names its index and every join order is written out.
 */

const dialect = new SQLiteSyncDialect({ casing: 'snake_case' })

/** Microseconds, measured on 1M devices: a range row, a probe, a list row built and checked, a sorted row. */
const SCAN_US = 0.03
const PROBE_US = 1.2
const LIST_BUILD_US = 0.2
const LIST_CHECK_US = 0.15
const SORT_US = 0.3
/** The first cap under which filters are counted to size them (see plan()). */
const FIRST_CAP = 10_000
/** Expected matches below which a search sorts and counts them in one statement. */
const SMALL_SORT = 20_000
/** A walk reads at least this many rows and at most this many times the expected number. */
const MIN_WALK = 1000
const WALK_MARGIN = 4
/** What a walk with lists may spend, as a share of the cost of sorting every match. */
const LIST_WALK_SHARE = 1.5
/** Distinct values tested one seek at a time before a `$regex` reads its whole range instead. */
const SEEK_DISTINCT_LIMIT = 1000

const STATUS_BY_CODE = new Map<number, string>(
  Object.entries(STATUS_CODES).map(([name, code]) => [code, name]),
)

type Plan = Scope & {
  /** Devices in the statuses. */
  devices: number
  /** Devices in the statuses having the first sort key, once asked (see `keyDevices`). */
  firstKeyDevices?: number
  driver: Check | undefined
  others: Check[]
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
  const get = <T>(query: SQL): T | undefined => all<T>(query)[0]

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

  /** `identity/id` is the device id, kept under the hidden attribute. */
  const stored = (tenantId: string, scope: string, name: string) =>
    scope === 'identity' && name === 'id'
      ? findName(tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      : findName(tenantId, scope, name)

  /** Devices of the statuses having `attr`, from the maintained totals. */
  function devicesWith(tenantId: string, attr: number | undefined, statuses: readonly number[]): number {
    if (attr === undefined) return 0
    return db
      .select({ status: attributeCounts.status, devices: attributeCounts.devices })
      .from(attributeCounts)
      .where(and(eq(attributeCounts.tenantId, tenantId), eq(attributeCounts.attr, attr)))
      .all()
      .filter((row) => statuses.includes(row.status))
      .reduce((sum, row) => sum + row.devices, 0)
  }

  /** Distinct stored strings of `attr` starting with `prefix` that `regex` matches. */
  const matching =
    (tenantId: string, statuses: readonly number[]) => (attr: number, regex: RegExp, prefix: string) => {
      const hi = prefix ? prefixEnd(prefix) : '\u{10FFFF}'
      const found = new Set<string>()
      for (const status of statuses) {
        const range = sql`tenant_id = ${tenantId} AND attr = ${attr} AND status = ${status}
        AND value >= ${prefix} AND value < ${hi}`
        const next = (after: string | undefined) =>
          get<{
            value: string
          }>(sql`SELECT value FROM inventory_attributes INDEXED BY inventory_attributes_value
          WHERE ${range} ${after === undefined ? sql`` : sql`AND value > ${after}`} ORDER BY value LIMIT 1`)
        let row = next(undefined)
        for (let seeks = 0; row && seeks < SEEK_DISTINCT_LIMIT; seeks++) {
          if (regex.test(row.value)) found.add(row.value)
          row = next(row.value)
        }
        if (!row) continue
        // Many distinct values: read the rest of the range once instead of seeking each.
        const { statement, params } = run(sql`SELECT DISTINCT value FROM inventory_attributes
        INDEXED BY inventory_attributes_value WHERE ${range} AND value >= ${row.value}`)
        for (const rest of statement.iterate(...params) as Iterable<{ value: string }>) {
          if (regex.test(rest.value)) found.add(rest.value)
        }
      }
      return [...found]
    }

  /** The statuses the status filters leave, and every other filter resolved. */
  function resolve(tenantId: string, filters: readonly Filter[]) {
    const isStatus = (f: Filter) => f.scope === 'identity' && f.name === 'status'
    const statuses = ALL_STATUS_CODES.filter((code) =>
      filters
        .filter(isStatus)
        .every((f) => matchesScalar(f, code === 0 ? undefined : STATUS_BY_CODE.get(code))),
    )
    const resolved: Resolved[] = filters
      .filter((f) => !isStatus(f))
      .map((f) => resolveFilter(f, tenantId, stored(tenantId, f.scope, f.name), matching(tenantId, statuses)))
    return { statuses, resolved }
  }

  /** Rows of a condition's positive form, counted up to `cap` (exact when fewer). */
  function countUpTo(scope: Scope, condition: Condition, cap: number): Check {
    // Free text is counted by its index, in milliseconds however many match: always exactly.
    if (condition.devices) {
      const n = get<{ n: number }>(sql`SELECT count(*) AS n FROM (${condition.devices})`)?.n ?? 0
      return { condition, rows: n, exact: true }
    }
    const row = get<{ n: number }>(sql`SELECT count(*) AS n FROM (SELECT 1 FROM inventory_attributes "e"
      INDEXED BY inventory_attributes_value WHERE ${rangeOf(scope, condition, 'e')} LIMIT ${cap})`)
    const n = row?.n ?? 0
    return { condition, rows: n, exact: n < cap }
  }

  /**
   * Sizes the filters for the plan. The positive ones are counted under a cap raised ten-fold
   * until one finishes: the smallest is then known exactly (it drives) for about the price of
   * reading it once per filter. Each other filter is counted only as far as matters: up to the
   * size at which checking it by list stops beating probing for that driver. A filter counted
   * short of its end carries the count reached, a lower bound.
   */
  function plan(tenantId: string, statuses: number[], conditions: Condition[]): Plan {
    const scope = { tenantId, statuses }
    const devices = devicesWith(tenantId, stored(tenantId, DEVICE_ID.scope, DEVICE_ID.name)?.id, statuses)
    let cap = FIRST_CAP
    let positive = conditions.filter((c) => !c.negate).map((c) => countUpTo(scope, c, cap))
    // One positive filter drives whatever its size: counting further would only repeat the total.
    while (positive.length > 1 && !positive.some((c) => c.exact) && cap <= devices) {
      cap *= 10
      positive = positive.map((c) => (c.exact ? c : countUpTo(scope, c.condition, cap)))
    }
    positive.sort((a, b) => a.rows - b.rows)
    const driver = positive[0]
    const driving = driver?.rows ?? devices
    const breakEven = Math.ceil((driving * (PROBE_US - LIST_CHECK_US)) / LIST_BUILD_US)
    const others = [
      ...positive.slice(1),
      ...conditions.filter((c) => c.negate).map((c) => ({ condition: c, rows: 0, exact: false })),
    ].map((c) => (c.exact || c.rows >= breakEven ? c : countUpTo(scope, c.condition, breakEven)))
    return { ...scope, devices, driver, others }
  }

  /** For `driving` rows, whether checking `check` by list beats probing. */
  const listFor = (driving: number) => (check: Check) =>
    check.rows * LIST_BUILD_US + driving * LIST_CHECK_US < driving * PROBE_US

  const drivingRows = (p: Plan) => p.driver?.rows ?? p.devices

  function total(p: Plan): number {
    if (!p.driver && p.others.length === 0) return p.devices
    if (p.driver && p.others.length === 0 && p.driver.exact && !p.driver.condition.arrays)
      return p.driver.rows
    const lone = p.others[0]
    if (!p.driver && p.others.length === 1 && lone) {
      const positive = { ...lone, condition: { ...lone.condition, negate: false } }
      return p.devices - total({ ...p, driver: positive, others: [] })
    }
    const from = candidates(p, p.driver, p.others, listFor(drivingRows(p)))
    return get<{ n: number }>(sql`SELECT count(*) AS n FROM (${from})`)?.n ?? 0
  }

  /** Every condition of a plan, each checked per walked row. */
  const allChecks = (p: Plan) => [...(p.driver ? [p.driver] : []), ...p.others]

  /**
   * A walk's devices in order, each once (an array visits several rows), through the tie group of
   * the last one when further keys will order ties; undefined when the budget ran out first.
   */
  function walk(query: SQL, want: number, budget: number, available: number, tieKeys: boolean) {
    const seen = new Set<number>()
    const order: { dev: number; v: unknown }[] = []
    const { statement, params } = run(query)
    for (const row of statement.iterate(...params) as Iterable<{ v?: unknown; dev: number }>) {
      if (seen.has(row.dev)) continue
      if (order.length >= want && (!tieKeys || row.v !== order[order.length - 1]!.v)) return order
      seen.add(row.dev)
      order.push({ dev: row.dev, v: row.v })
    }
    if (budget >= available) return order
    return order.length >= want && !tieKeys ? order : undefined
  }

  /** What sorting every match costs: enumerating the candidates, probing their sort values, sorting. */
  const sortCost = (p: Plan, keys: SortRef[], count: number) =>
    drivingRows(p) * (SCAN_US + p.others.length * LIST_CHECK_US) + count * (keys.length * PROBE_US + SORT_US)

  /**
   * The page by walking, when that is expected to beat sorting. First the filters are probed along
   * the walked order for a budget of a few times the rows expected to fill the page. A walk whose
   * order correlates with the filters (hostnames that start with the device type, sorted, filtered
   * on device type) finds its matches late and runs out: it is retried with the filters as lists,
   * built once and then checked at a tenth of a probe's cost a row, for a budget worth half again
   * what sorting would cost (it usually finishes well before; when it does not, the search has
   * cost two and a half sorts). Undefined: sort instead.
   */
  function page(
    p: Plan,
    keys: SortRef[],
    count: number,
    offset: number,
    limit: number,
  ): number[] | undefined {
    const want = offset + limit
    const first = keys[0]
    const available = walkable(p, keys)
    if (!walkPays(p, keys, count, want)) return undefined
    const checks = allChecks(p)
    const cost = sortCost(p, keys, count)
    const prefix = lacking(p, keys, checks, cost)
    if (!prefix) return undefined
    if (prefix.length >= Math.min(want, count)) return finish(p, prefix, keys, offset, want)
    const stages = [
      { asList: () => false, budget: Math.max(MIN_WALK, (WALK_MARGIN * want * available) / count) },
      {
        asList: () => true,
        budget:
          (LIST_WALK_SHARE * cost - checks.reduce((sum, c) => sum + c.rows * LIST_BUILD_US, 0)) /
          (SCAN_US + checks.length * LIST_CHECK_US),
      },
    ]
    let walked = 0
    for (const { asList, budget: rows } of stages) {
      const budget = Math.ceil(Math.min(rows, available))
      if (budget <= walked) continue
      walked = budget
      const query =
        first?.attr === undefined
          ? walkAge(p, checks, budget, asList)
          : walkSortKey(p, { ...first, attr: first.attr }, checks, budget, asList)
      const rest = want - prefix.length
      const order = walk(query, rest, budget, available, keys.length > 1)
      if (!order || order.length < Math.min(rest, count - prefix.length)) continue
      return finish(p, [...prefix, ...order], keys, offset, want)
    }
    return undefined
  }

  /** The page of a complete order: ties of the first key ordered by the further keys. */
  function finish(
    p: Plan,
    order: { dev: number; v: unknown }[],
    keys: SortRef[],
    offset: number,
    want: number,
  ) {
    const first = keys[0]
    if (first && (keys.length > 1 || order[0]?.v === null)) sortTies(p, order, keys.slice(1), first.desc)
    return order.slice(offset, want).map((o) => o.dev)
  }

  /**
   * Ascending, devices lacking the first sort key come before every value, so a walk of that key
   * is preceded by the matching ones among the devices that lack it. How many lack it is known
   * from the totals; they are looked for newest first (a device lacks attributes mostly because it
   * has not reported yet) until all are found. `[]` when none lacks it; undefined when finding
   * them would cost more than sorting every match.
   */
  function lacking(
    p: Plan,
    keys: SortRef[],
    checks: Check[],
    cost: number,
  ): { dev: number; v: null }[] | undefined {
    const missing = missingFirst(p, keys)
    if (missing === 0) return []
    const budget = Math.ceil(Math.min(p.devices, cost / (SCAN_US + PROBE_US)))
    const attr = keys[0]!.attr!
    const { statement, params } = run(lackingDevices(p, attr, checks, budget, listFor(missing)))
    const found: number[] = []
    let seen = 0
    for (const row of statement.iterate(...params) as Iterable<{ dev: number; ok: number }>) {
      if (row.ok) found.push(row.dev)
      if (++seen === missing) break
    }
    if (seen < missing) return undefined
    return found.sort((a, b) => a - b).map((dev) => ({ dev, v: null }))
  }

  /** Orders walked devices by the further sort keys within equal first-key values. */
  function sortTies(p: Plan, order: { dev: number; v: unknown }[], keys: SortRef[], desc: boolean) {
    const devs = JSON.stringify(order.map((o) => o.dev))
    const values = keys.map((key) => {
      if (key.attr === undefined) return new Map<number, unknown>()
      const rows = all<{
        dev: number
        v: unknown
      }>(sql`SELECT device AS dev, ${sql.raw(key.desc ? 'max' : 'min')}(value) AS v
        FROM inventory_attributes INDEXED BY inventory_attributes_device WHERE tenant_id = ${p.tenantId}
        AND device IN (SELECT value FROM json_each(${devs})) AND attr = ${key.attr} GROUP BY device`)
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

  function sortAll(p: Plan, keys: SortRef[], offset: number, limit: number): number[] {
    const from = candidates(p, p.driver, p.others, listFor(drivingRows(p)))
    return all<{ dev: number }>(sorted(p, from, keys, offset, limit, false)).map((row) => row.dev)
  }

  function render(tenantId: string, seqs: number[], request: SearchRequest): Device[] {
    if (!request.attributes) return renderDevices(db, names, tenantId, seqs)
    const wanted = [...request.attributes, { scope: 'system', name: 'updated_ts' }]
    const projection = wanted.flatMap((s) => findName(tenantId, s.scope, s.name)?.id ?? [])
    return renderDevices(db, names, tenantId, seqs, projection)
  }

  return {
    names,

    /** One page of matching devices (rendered) and how many match in all. */
    search(tenantId: string, request: SearchRequest): { devices: Device[]; total: number } {
      const { statuses, resolved } = resolve(tenantId, request.filters)
      if (statuses.length === 0 || resolved.some((r) => r.kind === 'none')) return { devices: [], total: 0 }
      const conditions = resolved.flatMap((r) => (r.kind === 'rows' ? [r.condition] : []))
      if (request.text) {
        if (request.text.length === 0) return { devices: [], total: 0 }
        conditions.push(textCondition(request.text, tenantId, statuses))
      }
      const p = plan(tenantId, statuses, conditions)
      const offset = (request.page - 1) * request.perPage
      const limit = request.perPage
      const keys = request.sort.map((key) => ({
        attr: stored(tenantId, key.scope, key.name)?.id,
        desc: key.desc,
      }))
      const page = (count: number) =>
        count === 0 || offset >= count ? [] : walkPage(p, keys, count, offset, limit)
      // Sorting every match is the likely plan when few are expected (filters taken as independent):
      // then one statement sorts and counts, and the count is never run on its own.
      const likely = p.driver
        ? p.others.reduce(
            (n, c) => n * (c.condition.negate ? 1 - c.rows / p.devices : c.rows / p.devices),
            p.driver.rows,
          )
        : p.devices
      if (p.driver && (p.driver.exact || likely < SMALL_SORT) && !walkPays(p, keys, likely, offset + limit)) {
        const from = candidates(p, p.driver, p.others, listFor(drivingRows(p)))
        const rows = all<{ dev: number; total: number }>(sorted(p, from, keys, offset, limit, true))
        if (rows.length > 0 || offset === 0) {
          return {
            devices: render(
              tenantId,
              rows.map((r) => r.dev),
              request,
            ),
            total: rows[0]?.total ?? 0,
          }
        }
      }
      const count = total(p)
      const seqs = page(count)
      return { devices: render(tenantId, seqs, request), total: count }
    },
  }

  /**
   * Rows of the order a page would walk (the first key's rows, or every device by age); 0 when no
   * walk can serve it: devices lacking the first key sort first ascending, where a walk of that
   * key never meets them.
   */
  function walkable(p: Plan, keys: SortRef[]): number {
    const first = keys[0]
    if (!first) return p.devices
    return first.attr === undefined ? 0 : keyDevices(p, first.attr)
  }

  /** Devices having the first sort key `attr`: one lookup a search, however often the plan asks. */
  function keyDevices(p: Plan, attr: number): number {
    if (p.firstKeyDevices === undefined) p.firstKeyDevices = devicesWith(p.tenantId, attr, p.statuses)
    return p.firstKeyDevices
  }

  /** Whether walking is expected to beat sorting for `count` matches. */
  function walkPays(p: Plan, keys: SortRef[], count: number, want: number): boolean {
    const available = walkable(p, keys)
    const perRow = SCAN_US + allChecks(p).length * PROBE_US
    const lackers = missingFirst(p, keys) * (SCAN_US + PROBE_US + allChecks(p).length * PROBE_US)
    return (
      count > 0 && available > 0 && lackers + ((want * available) / count) * perRow < sortCost(p, keys, count)
    )
  }

  /** Devices that sort before every value of the first key: those lacking it, when it ascends. */
  function missingFirst(p: Plan, keys: SortRef[]): number {
    const first = keys[0]
    if (!first || first.desc || first.attr === undefined) return 0
    return Math.max(0, p.devices - keyDevices(p, first.attr))
  }

  function walkPage(p: Plan, keys: SortRef[], count: number, offset: number, limit: number): number[] {
    return page(p, keys, count, offset, limit) ?? sortAll(p, keys, offset, limit)
  }
}

/** Mongo's order of stored values: missing, then numbers, then strings. */
function compareStored(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (v === undefined || v === null ? 0 : typeof v === 'number' ? 1 : 2)
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb || ra === 0) return ra - rb
  const x = a as string | number
  const y = b as string | number
  return x < y ? -1 : x > y ? 1 : 0
}

export type DeviceSearch = ReturnType<typeof createDeviceSearch>
