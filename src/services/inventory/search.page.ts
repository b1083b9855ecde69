import type { SQL } from 'drizzle-orm'
import { sql } from 'drizzle-orm'
import {
  LIST_BUILD_US,
  LIST_CHECK_US,
  type Plan,
  type Planner,
  PROBE_US,
  type Runner,
  SCAN_US,
  SORT_US,
} from './search.plan.ts'
import {
  type Check,
  candidates,
  lackingDevices,
  rowsOf,
  type SortRef,
  sorted,
  walkAge,
  walkSortKey,
} from './search.sql.ts'

/*
 * The search planner's last steps (see search.ts for the whole): the page of a plan, by walking
 * the sort order (or the devices by age) while that beats sorting every match, else by sorting.
 */

/** A walk reads at least this many rows and at most this many times the expected number. */
const MIN_WALK = 1000
const WALK_MARGIN = 4
/** What a walk with lists may spend, as a share of the cost of sorting every match. */
const LIST_WALK_SHARE = 1.5

export function createPager(
  runner: Runner,
  planner: Pick<Planner, 'devicesWith' | 'listFor' | 'drivingRows' | 'allChecks'>,
) {
  const { run, all } = runner
  const { devicesWith, listFor, drivingRows, allChecks } = planner
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
  function walkedPage(
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
      const { table, byDevice } = rowsOf(p, key.attr)
      const rows = all<{
        dev: number
        v: unknown
      }>(sql`SELECT device AS dev, ${sql.raw(key.desc ? 'max' : 'min')}(value) AS v
        FROM ${table} ${byDevice} WHERE tenant_id = ${p.tenantId}
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
    return walkedPage(p, keys, count, offset, limit) ?? sortAll(p, keys, offset, limit)
  }

  return { walkPays, walkPage }
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
