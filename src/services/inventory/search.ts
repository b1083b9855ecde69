import type { Database } from '../../../db/client.ts'
import type { SearchRequest } from './filters.ts'
import type { Device } from './model.ts'
import { DEVICE_ID, type NameRow, namesById, prepareNameQuery } from './names.ts'
import { type NameLookup, renderDevices } from './render.ts'
import { createPager } from './search.page.ts'
import { createPlanner, createRunner } from './search.plan.ts'
import { candidates, sorted } from './search.sql.ts'
import { textCondition } from './text.ts'

/*
 * How a search runs over a million devices: 2 filters + sort + total in tens of milliseconds.
 *
 * Rows: one per attribute value, indexed by (tenant, attribute, status, value, device) and by
 * (tenant, device, attribute, value). Both cover every search read: no query touches the table.
 * `system/check_in_time` has a table of its own with the same columns and value index (its key
 * serves by device); each query picks the table by attribute (`rowsOf` in search.sql.ts).
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

/** Expected matches below which a search sorts and counts them in one statement. */
const SMALL_SORT = 20_000

export function createDeviceSearch(db: Database) {
  const byId = new Map<number, NameRow>()
  const runner = createRunner(db)
  const { all } = runner

  /** Names by id never change once created: cached for good. Flags (`arrays`) are read fresh. */
  const names: NameLookup = (ids) => namesById(db, byId, ids, true)
  const nameQuery = prepareNameQuery(db)
  const findName = (tenantId: string, scope: string, name: string) => nameQuery.get({ tenantId, scope, name })

  /** `identity/id` is the device id, kept under the hidden attribute. */
  const stored = (tenantId: string, scope: string, name: string) =>
    scope === 'identity' && name === 'id'
      ? findName(tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      : findName(tenantId, scope, name)

  const planner = createPlanner(db, runner, stored)
  const { resolve, plan, listFor, drivingRows, total } = planner
  const { walkPays, walkPage } = createPager(runner, planner)

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
      // Step 1, the filters: status filters become the statuses searched, the rest index ranges.
      const { statuses, resolved } = resolve(tenantId, request.filters)
      if (statuses.length === 0 || resolved.some((r) => r.kind === 'none')) return { devices: [], total: 0 }
      const conditions = resolved.flatMap((r) => (r.kind === 'rows' ? [r.condition] : []))
      if (request.text) {
        if (request.text.length === 0) return { devices: [], total: 0 }
        conditions.push(textCondition(request.text, tenantId, statuses))
      }
      // Step 2, the driving range: the smallest positive filter drives; the others are probed per
      // driving row, or checked against a list when their range is small next to the driver's.
      const p = plan(tenantId, statuses, conditions)
      const offset = (request.page - 1) * request.perPage
      const limit = request.perPage
      const keys = request.sort.map((key) => ({
        attr: stored(tenantId, key.scope, key.name)?.id,
        desc: key.desc,
      }))
      // Step 3, few matches expected (filters taken as independent): one statement sorts every
      // match and counts them, and the count is never run on its own.
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
          const seqs = rows.map((r) => r.dev)
          return { devices: render(tenantId, seqs, request), total: rows[0]?.total ?? 0 }
        }
      }
      // Step 4, many matches: the total from the plan (kept totals when they answer it), then the
      // page by walking the sort order while that beats sorting, else by sorting every match.
      const count = total(p)
      const seqs = count === 0 || offset >= count ? [] : walkPage(p, keys, count, offset, limit)
      return { devices: render(tenantId, seqs, request), total: count }
    },
  }
}

export type DeviceSearch = ReturnType<typeof createDeviceSearch>
