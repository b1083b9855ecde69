import { and, eq, gt, isNotNull, type SQL, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { attributeCounts, attributeNames, attributeRowColumns, attributes, devices } from './tables.ts'

const p = (name: string) => sql.placeholder(name)

/** The prepared statements of inventory's rows (store.rows.ts), each prepared on its first use. */
export function inventoryStatements(db: Database) {
  const deviceById = preparedOnFirstUse(() =>
    db
      .select({ seq: devices.seq, id: devices.id, status: devices.status, tagsEtag: devices.tagsEtag })
      .from(devices)
      .where(and(eq(devices.tenantId, p('tenantId')), eq(devices.id, p('id'))))
      .prepare(),
  )
  const insertDeviceRow = preparedOnFirstUse(() =>
    db
      .insert(devices)
      .values({ tenantId: p('tenantId'), id: p('id'), status: p('status') })
      .returning({ seq: devices.seq })
      .prepare(),
  )
  const attributesOfDevice = preparedOnFirstUse(() =>
    db
      .select(attributeRowColumns)
      .from(attributes)
      .where(and(eq(attributes.tenantId, p('tenantId')), eq(attributes.device, p('device'))))
      .prepare(),
  )
  const rowsOfAttribute = preparedOnFirstUse(() =>
    db
      .select({ idx: attributes.idx, value: attributes.value })
      .from(attributes)
      .where(
        and(
          eq(attributes.tenantId, p('tenantId')),
          eq(attributes.device, p('device')),
          eq(attributes.attr, p('attr')),
        ),
      )
      .prepare(),
  )
  /** The smallest value of one attribute in one status that passes `bound`: a single index seek. */
  const seekValue = (bound: SQL) =>
    db
      .select({ value: attributes.value })
      .from(attributes)
      .where(
        and(
          eq(attributes.tenantId, p('tenantId')),
          eq(attributes.attr, p('attr')),
          eq(attributes.status, p('status')),
          bound,
        ),
      )
      .orderBy(attributes.value)
      .limit(1)
      .prepare()
  const firstValue = preparedOnFirstUse(() => seekValue(isNotNull(attributes.value)))
  const nextValue = preparedOnFirstUse(() => seekValue(gt(attributes.value, p('after'))))
  const insertRow = preparedOnFirstUse(() =>
    db
      .insert(attributes)
      .values({
        tenantId: p('tenantId'),
        device: p('device'),
        attr: p('attr'),
        status: p('status'),
        idx: p('idx'),
        value: p('value'),
        description: p('description'),
        timestamp: p('timestamp'),
      })
      .prepare(),
  )
  const deleteRows = preparedOnFirstUse(() =>
    db
      .delete(attributes)
      .where(
        and(
          eq(attributes.tenantId, p('tenantId')),
          eq(attributes.device, p('device')),
          eq(attributes.attr, p('attr')),
        ),
      )
      .returning({ value: attributes.value })
      .prepare(),
  )
  const addCount = preparedOnFirstUse(() =>
    db
      .insert(attributeCounts)
      .values({ tenantId: p('tenantId'), attr: p('attr'), status: p('status'), devices: p('delta') })
      .onConflictDoUpdate({
        target: [attributeCounts.tenantId, attributeCounts.attr, attributeCounts.status],
        set: { devices: sql`${attributeCounts.devices} + excluded.devices` },
      })
      .prepare(),
  )
  const markArrays = preparedOnFirstUse(() =>
    db
      .update(attributeNames)
      .set({ arrays: true })
      .where(and(eq(attributeNames.id, p('id')), eq(attributeNames.arrays, false)))
      .prepare(),
  )

  const devicesWith = preparedOnFirstUse(() =>
    db
      .select({ n: sql<number>`coalesce(sum(${attributeCounts.devices}), 0)` })
      .from(attributeCounts)
      .where(and(eq(attributeCounts.tenantId, p('tenantId')), eq(attributeCounts.attr, p('attr'))))
      .prepare(),
  )
  const newestName = preparedOnFirstUse(() =>
    db
      .select({ id: sql<number>`max(${attributeNames.id})` })
      .from(attributeNames)
      .prepare(),
  )

  return {
    deviceById,
    insertDeviceRow,
    attributesOfDevice,
    rowsOfAttribute,
    firstValue,
    nextValue,
    insertRow,
    deleteRows,
    addCount,
    markArrays,
    devicesWith,
    newestName,
  }
}
