import { and, eq, inArray } from 'drizzle-orm'
import type { Device } from './model.ts'
import type { NameRow } from './names.ts'
import { shapeDevices } from './render.ts'
import { decodeValue, type PgQueryable, pgRowColumns } from './store.rows.pg.ts'
import { attributeNames, attributes, devices } from './tables.pg.ts'

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
  const names = new Map<number, Pick<NameRow, 'scope' | 'name'>>()
  const shown = rows.map((row) => {
    names.set(row.attr, row)
    return { ...row, value: decodeValue(row) }
  })
  const ids = new Map(idRows.map((row) => [row.seq, row.id]))
  return shapeDevices(ids, shown, (attr) => names.get(attr), seqs, projection !== undefined)
}
