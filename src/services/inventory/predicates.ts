import type { Filter } from './filters.ts'
import { ALL_STATUS_CODES, isScope, STATUS_CODES } from './model.ts'

/*
 * What a filter asks of an attribute's stored values, engine-neutral: each engine's search turns a
 * predicate into its own SQL (conditions.ts for SQLite, search.pg.sql.ts for PostgreSQL), so the
 * Mongo semantics below are decided once.
 */

/** Stored values a predicate can compare with (everything else matches nothing). */
export type Scalar = string | number

/** One comparison on one value row of an attribute. */
export type Predicate =
  | { kind: 'eq'; value: Scalar }
  | { kind: 'in'; values: Scalar[] }
  | { kind: 'range'; op: '$gt' | '$gte' | '$lt' | '$lte'; value: Scalar }
  | { kind: 'exists' }
  | { kind: 'prefix'; prefix: string }
  /** The device's elements, in order, are exactly `values` (a whole-array `$eq`). */
  | { kind: 'array'; values: readonly unknown[] }

export type AttributeRef = { id: number; arrays: boolean }

/**
 * A filter decided before any SQL: it matches no device, every device, or the devices having a
 * row of `attr` that passes `predicate` (with `negate`, those having none, which includes devices
 * without the attribute, as `$ne`, `$nin` and `$exists: false` do in Mender).
 */
export type Described =
  | { kind: 'none' }
  | { kind: 'all' }
  | { kind: 'rows'; attr: AttributeRef; negate: boolean; predicate: Predicate }

/** The stored strings of an attribute starting with `prefix` that `regex` matches (engines have no JS regex). */
export type Matching = (attr: number, regex: RegExp, prefix: string) => Scalar[]

const isScalar = (value: unknown): value is Scalar =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))

/** System attributes holding times: a time-like filter value is compared in their stored form. */
const TIME_ATTRIBUTES = new Set(['created_ts', 'updated_ts', 'check_in_time'])

function normalise(filter: Filter, value: unknown): unknown {
  if (filter.scope !== 'system' || !TIME_ATTRIBUTES.has(filter.name) || typeof value !== 'string')
    return value
  const ms = Date.parse(value)
  return /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(ms) ? new Date(ms).toISOString() : value
}

/** The end of the range of strings starting with `prefix`. */
export const prefixEnd = (prefix: string) => `${prefix}\u{10FFFF}`

/**
 * Decides one filter. `attribute` is the stored attribute (undefined when no device ever had it);
 * `matching` lists the stored strings a `$regex` matches, which become an `in` list.
 */
export function describeFilter(
  filter: Filter,
  attribute: AttributeRef | undefined,
  matching: Matching,
): Described {
  const negative = filter.op === '$ne' || filter.op === '$nin' || (filter.op === '$exists' && !filter.value)
  const nothing: Described = negative ? { kind: 'all' } : { kind: 'none' }
  if (!isScope(filter.scope) || !attribute) return nothing
  const rows = (predicate: Predicate): Described => ({
    kind: 'rows',
    attr: attribute,
    negate: negative,
    predicate,
  })
  const value = normalise(filter, filter.value)
  switch (filter.op) {
    case '$eq':
    case '$ne':
      if (isScalar(value)) return rows({ kind: 'eq', value })
      if (Array.isArray(value)) return rows({ kind: 'array', values: value })
      return nothing
    case '$in':
    case '$nin': {
      const list = (value as unknown[]).map((v) => normalise(filter, v)).filter(isScalar)
      return list.length === 0 ? nothing : rows({ kind: 'in', values: list })
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return isScalar(value) ? rows({ kind: 'range', op: filter.op, value }) : nothing
    case '$exists':
      return rows({ kind: 'exists' })
    case '$prefix':
      return rows({ kind: 'prefix', prefix: String(value) })
    case '$regex': {
      const compiled = compileRegex(String(value))
      if (!compiled) return nothing
      const values = matching(attribute.id, compiled.regex, compiled.prefix)
      return values.length === 0 ? nothing : rows({ kind: 'in', values })
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

const STATUS_BY_CODE = new Map<number, string>(
  Object.entries(STATUS_CODES).map(([name, code]) => [code, name]),
)

const isStatus = (f: Filter) => f.scope === 'identity' && f.name === 'status'

/**
 * The status is a partition, not a filter: `identity/status` filters are decided here against the
 * statuses, and the search runs inside the ones left; `others` are the remaining filters.
 */
export function splitStatusFilters(filters: readonly Filter[]): { statuses: number[]; others: Filter[] } {
  const statuses = ALL_STATUS_CODES.filter((code) =>
    filters
      .filter(isStatus)
      .every((f) => matchesScalar(f, code === 0 ? undefined : STATUS_BY_CODE.get(code))),
  )
  return { statuses, others: filters.filter((f) => !isStatus(f)) }
}
