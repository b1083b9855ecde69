import { and, eq, inArray, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import type { Attribute, AttributeValue, Device } from './model.ts'
import type { NameRow } from './names.ts'
import { DEVICE_ID } from './names.ts'
import { attributeRowColumns, attributes, checkIns, devices } from './tables.ts'
import { fromRows, type ValueRow } from './values.ts'

const SCOPE_ORDER = ['identity', 'inventory', 'monitor', 'system', 'tags']
const scopeRank = (scope: string) => {
  const rank = SCOPE_ORDER.indexOf(scope)
  return rank < 0 ? SCOPE_ORDER.length : rank
}

export type NameLookup = (ids: Iterable<number>) => Map<number, NameRow>

/**
 * Devices as the API shows them, in the order of `seqs` (unknown ones are skipped). With
 * `projection` (attribute ids) only those attributes are shown, plus `system/updated_ts` which the
 * caller includes; without it `identities` lists the identity values and the `name` tag, which
 * the identity search matches on.
 */
export function renderDevices(
  db: Database,
  names: NameLookup,
  tenantId: string,
  seqs: readonly number[],
  projection?: readonly number[],
): Device[] {
  if (seqs.length === 0) return []
  const ids = new Map(
    db
      .select({ seq: devices.seq, id: devices.id })
      .from(devices)
      // `+tenant_id`: without statistics SQLite would rather scan the tenant's whole id index.
      .where(and(sql`+${devices.tenantId} = ${tenantId}`, inArray(devices.seq, [...seqs])))
      .all()
      .map((row) => [row.seq, row.id]),
  )
  const rows = db
    .select(attributeRowColumns)
    .from(attributes)
    .where(
      and(
        eq(attributes.tenantId, tenantId),
        inArray(attributes.device, [...seqs]),
        projection ? inArray(attributes.attr, [...projection]) : undefined,
      ),
    )
    .all()
  // `system/check_in_time` is kept apart (see tables.ts): its rows join the others here.
  const times = db
    .select({ device: checkIns.device, attr: checkIns.attr, value: checkIns.value })
    .from(checkIns)
    .where(
      and(
        eq(checkIns.tenantId, tenantId),
        inArray(checkIns.device, [...seqs]),
        projection ? inArray(checkIns.attr, [...projection]) : undefined,
      ),
    )
    .all()
  for (const t of times) rows.push({ ...t, idx: null, description: null, timestamp: null })
  const known = names(new Set(rows.map((row) => row.attr)))
  return shapeDevices(ids, rows, (attr) => known.get(attr), seqs, projection !== undefined)
}

/** An attribute row as the shaping below reads it. */
export type ShownRow = ValueRow & {
  device: number
  attr: number
  description: string | null
  timestamp: number | null
}

/**
 * Devices as the API shows them, from their ids and attribute rows (any engine's), in the order
 * of `seqs` (an attribute `nameOf` does not know is skipped); `projected` when only some
 * attributes were read (no `identities` then).
 */
export function shapeDevices(
  ids: ReadonlyMap<number, string>,
  rows: readonly ShownRow[],
  nameOf: (attr: number) => Pick<NameRow, 'scope' | 'name'> | undefined,
  seqs: readonly number[],
  projected: boolean,
): Device[] {
  const byDevice = new Map<number, Map<number, ShownRow[]>>()
  for (const row of rows) {
    let attrs = byDevice.get(row.device)
    if (!attrs) {
      attrs = new Map()
      byDevice.set(row.device, attrs)
    }
    const list = attrs.get(row.attr)
    if (list) list.push(row)
    else attrs.set(row.attr, [row])
  }
  const out: Device[] = []
  for (const seq of seqs) {
    const id = ids.get(seq)
    if (id === undefined) continue
    const list: Attribute[] = []
    for (const [attr, attrRows] of byDevice.get(seq) ?? []) {
      const name = nameOf(attr)
      if (!name || name.scope === DEVICE_ID.scope) continue
      const first = attrRows[0]!
      const attribute: Attribute = { name: name.name, value: fromRows(attrRows), scope: name.scope }
      if (first.description !== null) attribute.description = first.description
      if (first.timestamp !== null) attribute.timestamp = new Date(first.timestamp).toISOString()
      list.push(attribute)
    }
    list.sort(
      (a, b) => scopeRank(a.scope) - scopeRank(b.scope) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )
    const device: Device = { id, attributes: list }
    const updated = list.find((a) => a.scope === 'system' && a.name === 'updated_ts')
    if (typeof updated?.value === 'string') device.updated_ts = updated.value
    if (!projected) {
      const identities: AttributeValue[] = list
        .filter((a) => a.scope === 'identity' || (a.scope === 'tags' && a.name === 'name'))
        .map((a) => a.value)
      if (identities.length > 0) device.identities = identities
    }
    out.push(device)
  }
  return out
}
