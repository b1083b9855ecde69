import { and, eq, type SQL, sql } from 'drizzle-orm'
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import type { Database } from '../../../db/client.ts'
import { type Condition, prefixEnd, type Resolved, resolveFilter } from './conditions.ts'
import type { Filter } from './filters.ts'
import { DEVICE_ID, type NameRow } from './names.ts'
import { splitStatusFilters } from './predicates.ts'
import { type Check, candidates, rangeOf, rowsOf, type Scope } from './search.sql.ts'
import { attributeCounts } from './tables.ts'

/*
 * The search planner's first steps (see search.ts for the whole): the filters resolved to index
 * ranges, the driving range chosen, the others sized for probing or checking by list, the total.
 */
/** Microseconds, measured on 1M devices: a range row, a probe, a list row built and checked, a sorted row. */
export const SCAN_US = 0.03
export const PROBE_US = 1.2
export const LIST_BUILD_US = 0.2
export const LIST_CHECK_US = 0.15
export const SORT_US = 0.3
/** The first cap under which filters are counted to size them (see plan()). */
const FIRST_CAP = 10_000
/** Distinct values tested one seek at a time before a `$regex` reads its whole range instead. */
const SEEK_DISTINCT_LIMIT = 1000

export type Plan = Scope & {
  /** Devices in the statuses. */
  devices: number
  /** Devices in the statuses having the first sort key, once asked (see `keyDevices`). */
  firstKeyDevices?: number
  driver: Check | undefined
  others: Check[]
}

const dialect = new SQLiteSyncDialect({ casing: 'snake_case' })

/** Runs SQL the search builds, on the search's own connection. */
export function createRunner(db: Database) {
  const sqlite = db.$client
  const run = (query: SQL) => {
    const { sql: text, params } = dialect.sqlToQuery(query)
    return { statement: sqlite.query(text), params: params as (string | number | null)[] }
  }
  const all = <T>(query: SQL): T[] => {
    const { statement, params } = run(query)
    return statement.all(...params) as T[]
  }
  const get = <T>(query: SQL): T | undefined => all<T>(query)[0]
  return { run, all, get }
}

export type Runner = ReturnType<typeof createRunner>

/** A name's row as searches read it (`identity/id` is the hidden device id attribute). */
export type StoredName = (tenantId: string, scope: string, name: string) => NameRow | undefined

export function createPlanner(db: Database, runner: Runner, stored: StoredName) {
  // Long as a whole: one closure over the state its methods share; each method is short.
  const { run, get } = runner
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

  /** The tenant's `system/check_in_time` name, whose rows have their own table (see search.sql.ts). */
  const checkInsOf = (tenantId: string) => stored(tenantId, 'system', 'check_in_time')?.id

  /** Distinct stored strings of `attr` starting with `prefix` that `regex` matches. */
  const matching =
    (tenantId: string, statuses: readonly number[]) => (attr: number, regex: RegExp, prefix: string) => {
      const { table, byValue } = rowsOf({ tenantId, statuses, checkIns: checkInsOf(tenantId) }, attr)
      const hi = prefix ? prefixEnd(prefix) : '\u{10FFFF}'
      const found = new Set<string>()
      for (const status of statuses) {
        const range = sql`tenant_id = ${tenantId} AND attr = ${attr} AND status = ${status}
        AND value >= ${prefix} AND value < ${hi}`
        const next = (after: string | undefined) =>
          get<{
            value: string
          }>(sql`SELECT value FROM ${table} ${byValue}
          WHERE ${range} ${after === undefined ? sql`` : sql`AND value > ${after}`} ORDER BY value LIMIT 1`)
        let row = next(undefined)
        for (let seeks = 0; row && seeks < SEEK_DISTINCT_LIMIT; seeks++) {
          if (regex.test(row.value)) found.add(row.value)
          row = next(row.value)
        }
        if (!row) continue
        // Many distinct values: read the rest of the range once instead of seeking each.
        const { statement, params } = run(sql`SELECT DISTINCT value FROM ${table}
        ${byValue} WHERE ${range} AND value >= ${row.value}`)
        for (const rest of statement.iterate(...params) as Iterable<{ value: string }>) {
          if (regex.test(rest.value)) found.add(rest.value)
        }
      }
      return [...found]
    }

  /** The statuses the status filters leave, and every other filter resolved. */
  function resolve(tenantId: string, filters: readonly Filter[]) {
    const { statuses, others } = splitStatusFilters(filters)
    const resolved: Resolved[] = others.map((f) =>
      resolveFilter(f, tenantId, stored(tenantId, f.scope, f.name), matching(tenantId, statuses)),
    )
    return { statuses, resolved }
  }

  /** Rows of a condition's positive form, counted up to `cap` (exact when fewer). */
  function countUpTo(scope: Scope, condition: Condition, cap: number): Check {
    // Free text is counted by its index, in milliseconds however many match: always exactly.
    if (condition.devices) {
      const n = get<{ n: number }>(sql`SELECT count(*) AS n FROM (${condition.devices})`)?.n ?? 0
      return { condition, rows: n, exact: true }
    }
    const { table, byValue } = rowsOf(scope, condition.attr)
    const row = get<{ n: number }>(sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${table} "e"
      ${byValue} WHERE ${rangeOf(scope, condition, 'e')} LIMIT ${cap})`)
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
    const scope = { tenantId, statuses, checkIns: checkInsOf(tenantId) }
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

  return { devicesWith, resolve, plan, listFor, drivingRows, total, allChecks }
}

export type Planner = ReturnType<typeof createPlanner>
