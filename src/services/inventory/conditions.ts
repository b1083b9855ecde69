import { type SQL, sql } from 'drizzle-orm'
import type { Filter } from './filters.ts'
import { isScope } from './model.ts'

/**
 * One filter turned into a condition on the value rows of one attribute.
 *
 * `where(alias)` is SQL over a row of `inventory_attributes` under that alias; a device matches a
 * positive condition when one of its rows for `attr` satisfies it (Mongo's "any array element")
 * and a negated one when none does, which includes devices without the attribute, as `$ne`,
 * `$nin` and `$exists: false` do in Mender.
 */
export type Condition = {
  attr: number
  /** The attribute has held arrays: a device may have several rows for it. */
  arrays: boolean
  negate: boolean
  where: (alias: string) => SQL
  /**
   * Set when the matching devices come from elsewhere than attribute rows (free text): a
   * statement selecting their seqs as `dev`, already limited to the search's tenant and statuses.
   * `attr` and `where` are then unused.
   */
  devices?: SQL
}

/** A filter resolved before any SQL: it matches no device, every device, or rows of an attribute. */
export type Resolved = { kind: 'none' } | { kind: 'all' } | { kind: 'rows'; condition: Condition }

export type AttributeRef = { id: number; arrays: boolean }

/** Scalars a filter can compare with stored values (everything else matches nothing). */
const isScalar = (value: unknown): value is string | number =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))

/** System attributes holding times: a time-like filter value is compared in their stored form. */
const TIME_ATTRIBUTES = new Set(['created_ts', 'updated_ts', 'check_in_time'])

function normalise(filter: Filter, value: unknown): unknown {
  if (filter.scope !== 'system' || !TIME_ATTRIBUTES.has(filter.name) || typeof value !== 'string')
    return value
  const ms = Date.parse(value)
  return /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(ms) ? new Date(ms).toISOString() : value
}

const col = (alias: string, name: string) => sql.raw(`"${alias}"."${name}"`)

/** Large value lists go as one JSON parameter (SQLite builds an index of it once). */
function inList(alias: string, values: readonly (string | number)[]): SQL {
  if (values.length <= 50) {
    return sql`${col(alias, 'value')} IN (${sql.join(
      values.map((v) => sql`${v}`),
      sql`, `,
    )})`
  }
  return sql`${col(alias, 'value')} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`
}

/**
 * Mongo's comparison brackets by type: `$gt: 5` only sees numbers, `$gt: "m"` only strings.
 * Stored values order numbers before every string, so each bracket is one index range.
 */
function range(alias: string, op: '$gt' | '$gte' | '$lt' | '$lte', value: string | number): SQL {
  const v = col(alias, 'value')
  const cmp = { $gt: sql`>`, $gte: sql`>=`, $lt: sql`<`, $lte: sql`<=` }[op]
  const below = op === '$lt' || op === '$lte'
  if (typeof value === 'number')
    return below ? sql`${v} ${cmp} ${value}` : sql`${v} ${cmp} ${value} AND ${v} < ''`
  return below ? sql`${v} ${cmp} ${value} AND ${v} >= ''` : sql`${v} ${cmp} ${value}`
}

/** A whole-array `$eq`: the device's elements, in order, are exactly `value`. */
function arrayEquals(alias: string, attr: number, tenantId: string, value: readonly unknown[]): SQL {
  const first = value[0]
  const seek =
    first === undefined ? sql`${col(alias, 'value')} IS NULL` : sql`${col(alias, 'value')} = ${first}`
  return sql`${seek} AND (SELECT json_group_array(e.value) FROM (SELECT value FROM inventory_attributes e
    WHERE e.tenant_id = ${tenantId} AND e.device = ${col(alias, 'device')} AND e.attr = ${attr} AND e.idx >= 0
    ORDER BY e.idx) e) = json(${JSON.stringify(value)})`
}

/** The end of the range of strings starting with `prefix`. */
export const prefixEnd = (prefix: string) => `${prefix}\u{10FFFF}`

/**
 * Turns one filter into a condition. `attribute` is the stored attribute (undefined when no
 * device ever had it); `matching` gives the stored strings a `$regex` matches (SQLite has no
 * regular expressions: the caller tests the distinct values in JavaScript).
 */
export function resolveFilter(
  filter: Filter,
  tenantId: string,
  attribute: AttributeRef | undefined,
  matching: (attr: number, regex: RegExp, prefix: string) => (string | number)[],
): Resolved {
  const negative = filter.op === '$ne' || filter.op === '$nin' || (filter.op === '$exists' && !filter.value)
  if (!isScope(filter.scope) || !attribute) return negative ? { kind: 'all' } : { kind: 'none' }
  const rows = (where: (alias: string) => SQL, negate = negative): Resolved => ({
    kind: 'rows',
    condition: { attr: attribute.id, arrays: attribute.arrays, negate, where },
  })
  const nothing: Resolved = negative ? { kind: 'all' } : { kind: 'none' }
  const value = normalise(filter, filter.value)
  switch (filter.op) {
    case '$eq':
    case '$ne':
      if (isScalar(value)) return rows((a) => sql`${col(a, 'value')} = ${value}`)
      if (Array.isArray(value)) return rows((a) => arrayEquals(a, attribute.id, tenantId, value))
      return nothing
    case '$in':
    case '$nin': {
      const list = (value as unknown[]).map((v) => normalise(filter, v)).filter(isScalar)
      return list.length === 0 ? nothing : rows((a) => inList(a, list))
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return isScalar(value) ? rows((a) => range(a, filter.op as '$gt', value)) : nothing
    case '$exists':
      return rows(() => sql`1`)
    case '$prefix': {
      const prefix = String(value)
      return rows((a) => sql`${col(a, 'value')} >= ${prefix} AND ${col(a, 'value')} < ${prefixEnd(prefix)}`)
    }
    case '$regex': {
      const compiled = compileRegex(String(value))
      if (!compiled) return nothing
      const values = matching(attribute.id, compiled.regex, compiled.prefix)
      return values.length === 0 ? nothing : rows((a) => inList(a, values))
    }
  }
}

/**
 * Mender's `$regex`: anchored at the start, `/pattern/flags` for flags; an invalid pattern matches
 * nothing. `prefix` is the literal text every match starts with (narrows the values to test).
 */
function compileRegex(source: string): { regex: RegExp; prefix: string } | undefined {
  const slashed = /^\/(.*)\/([a-z]*)$/s.exec(source)
  const pattern = slashed ? slashed[1]! : source
  const flags = (slashed ? slashed[2]! : '').replace(/[gy]/g, '')
  let regex: RegExp
  try {
    regex = new RegExp(`^(?:${pattern})`, flags)
  } catch {
    return undefined
  }
  return { regex, prefix: flags.includes('i') ? '' : literalPrefix(pattern) }
}

function literalPrefix(pattern: string): string {
  if (/^\^/.test(pattern)) return literalPrefix(pattern.slice(1))
  if (/(^|[^\\])\|/.test(pattern)) return ''
  let prefix = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!
    let literal: string | undefined
    if (/[A-Za-z0-9 _\-:/,=@#%&'"~<>;]/.test(ch)) literal = ch
    else if (ch === '\\' && i + 1 < pattern.length && /[^A-Za-z0-9]/.test(pattern[i + 1]!))
      literal = pattern[++i]
    if (literal === undefined) break
    // A quantifier after this character makes it optional (or repeatable): stop before it.
    if (/[*?{]/.test(pattern[i + 1] ?? '')) break
    prefix += literal
  }
  return prefix
}

/** Mongo's semantics for one scalar (used on the status, which is the same for a whole partition). */
export function matchesScalar(filter: Filter, stored: string | undefined): boolean {
  const { op, value } = filter
  const eq = (v: unknown) => stored !== undefined && v === stored
  switch (op) {
    case '$eq':
      return eq(value)
    case '$ne':
      return !eq(value)
    case '$in':
      return (value as unknown[]).some(eq)
    case '$nin':
      return !(value as unknown[]).some(eq)
    case '$exists':
      return (stored !== undefined) === Boolean(value)
    case '$prefix':
      return stored?.startsWith(String(value)) === true
    case '$regex': {
      const compiled = compileRegex(String(value))
      return stored !== undefined && compiled?.regex.test(stored) === true
    }
    default: {
      if (stored === undefined || typeof value !== 'string') return false
      return { $gt: stored > value, $gte: stored >= value, $lt: stored < value, $lte: stored <= value }[op]
    }
  }
}
