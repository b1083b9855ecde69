import { type SQL, sql } from 'drizzle-orm'
import type { Condition } from './conditions.ts'

/** A filter of a plan with its estimated rows (`exact` when counted to the end). */
export type Check = { condition: Condition; rows: number; exact: boolean }

/**
 * What every query of one search shares. `checkIns` is the tenant's `system/check_in_time` name,
 * whose rows are in a table of their own (see tables.ts).
 */
export type Scope = { tenantId: string; statuses: readonly number[]; checkIns?: number | undefined }

/** A sort key resolved to its attribute (undefined: no device has it, every value is missing). */
export type SortRef = { attr: number | undefined; desc: boolean }

const ident = (name: string) => sql.raw(`"${name}"`)

/**
 * The table holding an attribute's value rows, with the hints naming its by-value and by-device
 * indexes: the check-in times have their own table, with the same columns and a by-value index of
 * the same shape (its primary key serves by device).
 */
export function rowsOf(scope: Scope, attr: number | undefined) {
  if (attr !== undefined && attr === scope.checkIns) {
    return {
      table: sql.raw('inventory_check_ins'),
      byValue: sql.raw('INDEXED BY inventory_check_ins_value'),
      byDevice: sql``,
    }
  }
  return {
    table: sql.raw('inventory_attributes'),
    byValue: sql.raw('INDEXED BY inventory_attributes_value'),
    byDevice: sql.raw('INDEXED BY inventory_attributes_device'),
  }
}
const statusList = (statuses: readonly number[]) =>
  sql.raw(statuses.length > 0 ? statuses.join(', ') : 'NULL')

/** The index range of a condition's rows (in its positive form) under `alias`. */
export function rangeOf(scope: Scope, c: Condition, alias: string): SQL {
  const a = ident(alias)
  return sql`${a}.tenant_id = ${scope.tenantId} AND ${a}.attr = ${c.attr}
    AND ${a}.status IN (${statusList(scope.statuses)}) AND ${c.where(alias)}`
}

/**
 * Whether device `dev` passes condition `c`: an EXISTS probe into the by-device index, or
 * membership in the list of the condition's devices, which SQLite builds once per statement.
 * The `+` keeps SQLite from turning membership into one seek per listed device.
 */
export function test(scope: Scope, c: Condition, dev: SQL, asList: boolean, k: number): SQL {
  const alias = `c${k}`
  const a = ident(alias)
  const rows = rowsOf(scope, c.attr)
  const positive = c.devices
    ? sql`+${dev} IN (${c.devices})`
    : asList
      ? sql`+${dev} IN (SELECT ${a}.device FROM ${rows.table} ${a} ${rows.byValue}
        WHERE ${rangeOf(scope, c, alias)})`
      : sql`EXISTS (SELECT 1 FROM ${rows.table} ${a} ${rows.byDevice}
        WHERE ${a}.tenant_id = ${scope.tenantId} AND ${a}.device = ${dev} AND ${a}.attr = ${c.attr}
        AND ${c.where(alias)})`
  return c.negate ? sql`NOT ${positive}` : positive
}

/** ` AND test AND test ...` for `checks`, each as a list or a probe as `asList` decides. */
export function tests(
  scope: Scope,
  checks: readonly Check[],
  dev: SQL,
  asList: (check: Check) => boolean,
): SQL {
  return sql.join(checks.map((check, k) => sql` AND ${test(scope, check.condition, dev, asList(check), k)}`))
}

/** Every matching device once, as `dev`: the driver's range filtered by the other checks. */
export function candidates(
  scope: Scope,
  driver: Check | undefined,
  others: readonly Check[],
  asList: (check: Check) => boolean,
): SQL {
  if (!driver) {
    return sql`SELECT "dv".seq AS dev FROM inventory_devices "dv" INDEXED BY inventory_devices_status
      WHERE "dv".tenant_id = ${scope.tenantId} AND "dv".status IN (${statusList(scope.statuses)})
      ${tests(scope, others, sql.raw('"dv".seq'), asList)}`
  }
  if (driver.condition.devices) {
    return sql`SELECT dev FROM (${driver.condition.devices}) WHERE 1 ${tests(scope, others, sql.raw('dev'), asList)}`
  }
  const distinct = driver.condition.arrays ? sql`DISTINCT` : sql``
  const rows = rowsOf(scope, driver.condition.attr)
  return sql`SELECT ${distinct} "d".device AS dev FROM ${rows.table} "d" ${rows.byValue}
    WHERE ${rangeOf(scope, driver.condition, 'd')} ${tests(scope, others, sql.raw('"d".device'), asList)}`
}

/** A device's value for one sort key: its smallest element ascending, its largest descending. */
export function sortValue(scope: Scope, key: SortRef, dev: SQL, k: number): SQL {
  if (key.attr === undefined) return sql`NULL`
  const a = ident(`s${k}`)
  const rows = rowsOf(scope, key.attr)
  return sql`(SELECT ${sql.raw(key.desc ? 'max' : 'min')}(${a}.value) FROM ${rows.table} ${a}
    ${rows.byDevice} WHERE ${a}.tenant_id = ${scope.tenantId} AND ${a}.device = ${dev}
    AND ${a}.attr = ${key.attr})`
}

/**
 * Sorts every candidate: missing values first ascending and last descending (SQLite's NULL order,
 * Mongo's too), numbers before strings, ties by device age in the first key's direction. With
 * `withTotal` each row also carries the number of candidates.
 */
export function sorted(
  scope: Scope,
  from: SQL,
  keys: readonly SortRef[],
  offset: number,
  limit: number,
  withTotal: boolean,
) {
  const order = keys.map(
    (key, k) => sql`${sortValue(scope, key, sql.raw('dev'), k)} ${sql.raw(key.desc ? 'DESC' : 'ASC')}`,
  )
  order.push(sql`dev ${sql.raw(keys[0]?.desc ? 'DESC' : 'ASC')}`)
  const total = withTotal ? sql`, count(*) OVER () AS total` : sql``
  return sql`SELECT dev${total} FROM (${from}) ORDER BY ${sql.join(order, sql`, `)} LIMIT ${limit} OFFSET ${offset}`
}

/**
 * The first `budget` rows of a sort key's index in order (one ordered range per status, merged
 * without sorting), then only those passing every check, still in that order: a subquery with a
 * LIMIT is neither flattened nor sorted again, so the rows stream and the reader may stop early.
 * The budget bounds the work when matches turn out rarer early in the order than on average (a
 * sort key correlated with a filter).
 */
export function walkSortKey(
  scope: Scope,
  key: SortRef & { attr: number },
  checks: readonly Check[],
  budget: number,
  asList: (check: Check) => boolean,
): SQL {
  const dir = sql.raw(key.desc ? 'DESC' : 'ASC')
  const rows = rowsOf(scope, key.attr)
  const arms = scope.statuses.map(
    (status) => sql`SELECT "w".value AS v, "w".device AS dev FROM ${rows.table} "w"
      ${rows.byValue} WHERE "w".tenant_id = ${scope.tenantId} AND "w".attr = ${key.attr}
      AND "w".status = ${status}`,
  )
  return sql`SELECT v, dev FROM (SELECT v, dev FROM (${sql.join(arms, sql` UNION ALL `)})
    ORDER BY v ${dir}, dev ${dir} LIMIT ${budget}) WHERE 1 ${tests(scope, checks, sql.raw('dev'), asList)}`
}

/** The same walk over devices in age order (searches without a sort). */
export function walkAge(
  scope: Scope,
  checks: readonly Check[],
  budget: number,
  asList: (check: Check) => boolean,
): SQL {
  return sql`SELECT dev FROM (SELECT "dv".seq AS dev FROM inventory_devices "dv" NOT INDEXED
    WHERE "dv".tenant_id = ${scope.tenantId} AND "dv".status IN (${statusList(scope.statuses)})
    ORDER BY "dv".seq LIMIT ${budget}) WHERE 1 ${tests(scope, checks, sql.raw('dev'), asList)}`
}

/**
 * Devices lacking attribute `attr`, newest first among the first `budget` devices, each with `ok`
 * telling whether it passes every check.
 */
export function lackingDevices(
  scope: Scope,
  attr: number,
  checks: readonly Check[],
  budget: number,
  asList: (check: Check) => boolean,
): SQL {
  const rows = rowsOf(scope, attr)
  return sql`SELECT dev, (1 ${tests(scope, checks, sql.raw('dev'), asList)}) AS ok FROM (SELECT "dv".seq AS dev
    FROM inventory_devices "dv" NOT INDEXED WHERE "dv".tenant_id = ${scope.tenantId}
    AND "dv".status IN (${statusList(scope.statuses)}) ORDER BY "dv".seq DESC LIMIT ${budget})
    WHERE NOT EXISTS (SELECT 1 FROM ${rows.table} "m" ${rows.byDevice}
    WHERE "m".tenant_id = ${scope.tenantId} AND "m".device = dev AND "m".attr = ${attr})`
}
