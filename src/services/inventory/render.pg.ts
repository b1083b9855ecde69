import { and, eq, inArray, sql } from 'drizzle-orm'
import type { Device } from './model.ts'
import type { NameRow } from './names.ts'
import { type ShownRow, shapeDevices } from './render.ts'
import { decodeValue, type PgQueryable, pgRowColumns } from './store.rows.pg.ts'
import { attributeNames, attributes, checkIns, devices } from './tables.pg.ts'

/**
 * Devices as the API shows them, read from PostgreSQL, in the order of `seqs` (see renderDevices
 * in render.ts); with `projection` (attribute ids) only those attributes.
 */
export async function renderPgDevices(
  q: PgQueryable,
  tenantId: string,
  seqs: readonly number[],
  projection?: readonly number[],
): Promise<Device[]> {
  if (seqs.length === 0) return []
  const idRows = await q
    .select({ seq: devices.seq, id: devices.id })
    .from(devices)
    .where(and(eq(devices.tenantId, tenantId), inArray(devices.seq, [...seqs])))
  const rows = await q
    .select({ ...pgRowColumns, scope: attributeNames.scope, name: attributeNames.name })
    .from(attributes)
    .innerJoin(attributeNames, eq(attributeNames.id, attributes.attr))
    .where(
      and(
        eq(attributes.tenantId, tenantId),
        inArray(attributes.device, [...seqs]),
        projection ? inArray(attributes.attr, [...projection]) : undefined,
      ),
    )
  // `system/check_in_time` is kept apart (see tables.ts): its rows join the others here.
  const times = await q
    .select({
      device: checkIns.device,
      attr: checkIns.attr,
      text: sql<string>`${checkIns.value} #>> '{}'`,
      scope: attributeNames.scope,
      name: attributeNames.name,
    })
    .from(checkIns)
    .innerJoin(attributeNames, eq(attributeNames.id, checkIns.attr))
    .where(
      and(
        eq(checkIns.tenantId, tenantId),
        inArray(checkIns.device, [...seqs]),
        projection ? inArray(checkIns.attr, [...projection]) : undefined,
      ),
    )
  const names = new Map<number, Pick<NameRow, 'scope' | 'name'>>()
  const shown: ShownRow[] = rows.map((row) => {
    names.set(row.attr, row)
    return { ...row, value: decodeValue(row) }
  })
  for (const t of times) {
    names.set(t.attr, t)
    shown.push({
      device: t.device,
      attr: t.attr,
      idx: null,
      value: t.text,
      description: null,
      timestamp: null,
    })
  }
  const ids = new Map(idRows.map((row) => [row.seq, row.id]))
  return shapeDevices(ids, shown, (attr) => names.get(attr), seqs, projection !== undefined)
}
