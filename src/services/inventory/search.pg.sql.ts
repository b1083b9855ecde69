import { type SQL, sql } from 'drizzle-orm'
import { type Predicate, prefixEnd } from './predicates.ts'
import { jsonValue } from './store.rows.pg.ts'
import { numberOf, STRING_KEY_CHARS, stringKeyOf, stringOf } from './tables.pg.ts'

/*
 * A search's predicates as PostgreSQL SQL (see predicates.ts for their meaning). Values are compared
 * in SQLite's order through the number and string keys of tables.pg.ts; every condition on a whole
 * string also states the indexed prefix it implies, so the value index serves it.
 */

const column = (alias: string, name: string) => sql.raw(`"${alias}"."${name}"`)
const keyOf = (value: string) => sql`left(${value}, ${sql.raw(String(STRING_KEY_CHARS))})`
const list = (values: readonly (string | number)[]) =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )

/** The indexed prefix of a string, counted in characters as PostgreSQL's `left` counts them. */
const keyText = (value: string) => [...value].slice(0, STRING_KEY_CHARS).join('')

const ops = { $gt: sql`>`, $gte: sql`>=`, $lt: sql`<`, $lte: sql`<=` }

/** A string condition on the value under `v`: only strings, with the index's prefix bound. */
function onString(v: SQL, bound: SQL, condition: SQL): SQL {
  return sql`${numberOf(v)} IS NULL AND ${stringKeyOf(v)} ${bound} AND ${condition}`
}

/** `predicate` on the row of `inventory_attributes` under `alias`, of attribute `attr`. */
export function predicateSql(predicate: Predicate, alias: string, tenantId: string, attr: number): SQL {
  const v = column(alias, 'value')
  const str = stringOf(v)
  switch (predicate.kind) {
    case 'eq': {
      const x = predicate.value
      if (typeof x === 'number') return sql`${numberOf(v)} = ${x}`
      return onString(v, sql`= ${keyOf(x)}`, sql`${str} = ${x}`)
    }
    case 'in': {
      const numbers = predicate.values.filter((x) => typeof x === 'number')
      const strings = predicate.values.filter((x) => typeof x === 'string')
      const arms: SQL[] = []
      if (numbers.length > 0) arms.push(sql`${numberOf(v)} IN (${list(numbers)})`)
      if (strings.length > 0)
        arms.push(onString(v, sql`IN (${list(strings.map(keyText))})`, sql`${str} IN (${list(strings)})`))
      return sql`(${sql.join(arms, sql` OR `)})`
    }
    case 'range': {
      const { op, value: x } = predicate
      if (typeof x === 'number') return sql`${numberOf(v)} ${ops[op]} ${x}`
      const below = op === '$lt' || op === '$lte'
      return onString(v, sql`${below ? ops.$lte : ops.$gte} ${keyOf(x)}`, sql`${str} ${ops[op]} ${x}`)
    }
    case 'exists':
      return sql`TRUE`
    case 'prefix': {
      const p = predicate.prefix
      return onString(v, sql`>= ${keyOf(p)}`, sql`${str} >= ${p} AND ${str} < ${prefixEnd(p)}`)
    }
    case 'array': {
      // The row of the first element (or of the empty array) stands for the device's whole value.
      const first = predicate.values.length === 0 ? sql`= -1` : sql`= 0`
      return sql`${column(alias, 'idx')} ${first} AND (SELECT coalesce(jsonb_agg(e.value ORDER BY e.idx), '[]'::jsonb)
        FROM inventory_attributes e WHERE e.tenant_id = ${tenantId} AND e.device = ${column(alias, 'device')}
        AND e.attr = ${attr} AND e.idx >= 0) = ${jsonValue(predicate.values)}`
    }
  }
}
