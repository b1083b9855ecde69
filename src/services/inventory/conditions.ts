import { type SQL, sql } from 'drizzle-orm'
import type { Filter } from './filters.ts'
import { type AttributeRef, describeFilter, type Matching, type Predicate, prefixEnd } from './predicates.ts'

export { matchesScalar, prefixEnd } from './predicates.ts'
export type { AttributeRef }

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

/**
 * Turns one filter into a condition on SQLite's rows. `attribute` is the stored attribute
 * (undefined when no device ever had it); `matching` gives the stored strings a `$regex` matches
 * (SQLite has no regular expressions: the caller tests the distinct values in JavaScript).
 */
export function resolveFilter(
  filter: Filter,
  tenantId: string,
  attribute: AttributeRef | undefined,
  matching: Matching,
): Resolved {
  const described = describeFilter(filter, attribute, matching)
  if (described.kind !== 'rows') return described
  const { attr, negate, predicate } = described
  return {
    kind: 'rows',
    condition: { attr: attr.id, arrays: attr.arrays, negate, where: whereOf(predicate, attr.id, tenantId) },
  }
}

/** A predicate as SQL over a row of `inventory_attributes` under an alias. */
function whereOf(predicate: Predicate, attr: number, tenantId: string): (alias: string) => SQL {
  switch (predicate.kind) {
    case 'eq':
      return (a) => sql`${col(a, 'value')} = ${predicate.value}`
    case 'array':
      return (a) => arrayEquals(a, attr, tenantId, predicate.values)
    case 'in':
      return (a) => inList(a, predicate.values)
    case 'range':
      return (a) => range(a, predicate.op, predicate.value)
    case 'exists':
      return () => sql`1`
    case 'prefix':
      return (a) =>
        sql`${col(a, 'value')} >= ${predicate.prefix} AND ${col(a, 'value')} < ${prefixEnd(predicate.prefix)}`
  }
}
