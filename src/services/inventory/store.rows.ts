import { and, eq, gt, inArray } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { ALL_STATUS_CODES } from './model.ts'
import { createNameCache, DEVICE_ID, type NameCache, type NameRow } from './names.ts'
import { inventoryStatements } from './store.statements.ts'
import { attributeCounts, attributeNames, attributes, checkIns, devices } from './tables.ts'
import { changesText, createTextIndex, isFullText } from './text.ts'
import type { ValueRow } from './values.ts'

export type DeviceRow = { seq: number; id: string; status: number; tagsEtag: string | null }

/** What a write needs to know about a device: its key and the status its rows carry. */
export type DeviceRef = Pick<DeviceRow, 'seq' | 'status'>

export type AttributeRow = ValueRow & {
  device: number
  attr: number
  description: string | null
  /** Unix milliseconds (tags only). */
  timestamp: number | null
}

export { DEVICE_ID }

/**
 * Devices and their attribute rows, the per-status counts, and the free-text index, row by row.
 * Synchronous (bun:sqlite is): only the store (store.ts) uses these, composing them into its
 * atomic methods, each inside one `write`.
 */
export interface InventoryRows {
  /** Attribute names, cached. */
  names: NameCache
  /** Reindexes the free text of up to `limit` changed devices (see text.ts); returns how many. */
  flushText(limit: number): number
  /**
   * Runs `fn` in a transaction (a savepoint when the caller already holds one) and keeps the
   * name cache honest about what committed.
   */
  write<T>(fn: () => T): T
  /** The device with this id, if inventory knows it. */
  findDevice(tenantId: string, id: string): DeviceRow | undefined
  /** A new device row, with its hidden id attribute (which also makes it count in its status). */
  insertDevice(tenantId: string, id: string, status: number): DeviceRow
  /** Every attribute row of one device. */
  deviceAttributes(tenantId: string, device: number): AttributeRow[]
  /** One attribute of one device, without loading the rest. */
  attributeRows(tenantId: string, device: number, attr: number): ValueRow[]
  /** Devices (of any status) that have `value` for `attr`, oldest first. */
  devicesWithValue(tenantId: string, attr: number, value: string | number): DeviceRef[]
  /**
   * The distinct values of `attr` among devices of `statuses`, sorted: one index seek per value
   * (a group list over a million devices is a dozen seeks, not a million-row scan).
   */
  distinctValues(tenantId: string, attr: number, statuses: readonly number[]): (string | number)[]
  /** Ids of the devices of one status, oldest first. */
  deviceIdsWithStatus(tenantId: string, status: number): string[]
  /** Ids of the devices of one status that have `value` for `attr`, oldest first. */
  deviceIdsWithValue(tenantId: string, attr: number, status: number, value: string | number): string[]
  /** Devices per status that have each attribute (the hidden id attribute: every device). */
  attributeCounts(tenantId: string): { attr: number; status: number; devices: number }[]
  /** Replaces one attribute's rows (the device gains it when it had none, and counts). */
  setAttribute(
    tenantId: string,
    device: DeviceRef,
    attr: number,
    rows: readonly ValueRow[],
    extra?: { description?: string; timestamp?: number; name?: NameRow },
  ): void
  /**
   * Sets the device's `system/check_in_time` (name `attr`) to `value`: one row of its own table
   * (see tables.ts); the device gains it (and counts) on its first check-in.
   */
  setCheckIn(tenantId: string, device: DeviceRef, attr: number, value: string): void
  /** The check-in times of those of `ids` that have one. */
  checkInTimes(tenantId: string, ids: readonly string[]): Map<string, Date>
  /** Removes one attribute of the device (and its count). */
  removeAttribute(tenantId: string, device: DeviceRef, attr: number): void
  /** Moves a device, its rows and its counts to another status. */
  setStatus(tenantId: string, device: DeviceRef, status: number): void
  /** Deletes the device with every attribute row and count. */
  deleteDevice(tenantId: string, device: DeviceRef): void
  /** Sets the ETag of the device's tags. */
  setTagsEtag(tenantId: string, device: DeviceRef, etag: string): void
}

export function createInventoryRows(db: Database): InventoryRows {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const names = createNameCache(db)
  const text = createTextIndex(db)
  let depth = 0

  const q = inventoryStatements(db)

  const count = (tenantId: string, attr: number, status: number, delta: number) =>
    q.addCount.run({ tenantId, attr, status, delta })

  /**
   * Deletes a name no device has any more, with its counts and cache entries, so names a device
   * sends and replaces do not pile up. The newest name stays: SQLite gives a new row the largest id
   * plus one, so keeping it means an id is never handed out twice (the search worker caches names
   * by id for good).
   */
  const forgetIfUnused = (tenantId: string, attr: number) => {
    if (q.devicesWith.get({ tenantId, attr })!.n > 0 || q.newestName.get()!.id === attr) return
    db.delete(attributeCounts)
      .where(and(eq(attributeCounts.tenantId, tenantId), eq(attributeCounts.attr, attr)))
      .run()
    db.delete(attributeNames).where(eq(attributeNames.id, attr)).run()
    names.forget(tenantId, attr)
  }

  const attrsOf = (tenantId: string, device: number) => [
    ...db
      .selectDistinct({ attr: attributes.attr })
      .from(attributes)
      .where(and(eq(attributes.tenantId, tenantId), eq(attributes.device, device)))
      .all()
      .map((row) => row.attr),
    ...db
      .select({ attr: checkIns.attr })
      .from(checkIns)
      .where(and(eq(checkIns.tenantId, tenantId), eq(checkIns.device, device)))
      .all()
      .map((row) => row.attr),
  ]
  const checkInKey = (tenantId: string, device: number) =>
    and(eq(checkIns.tenantId, tenantId), eq(checkIns.device, device))

  /** Marks the device's text for rebuilding when `attr` (named `known`, when the caller has it) is part of it. */
  const textChanged = (device: DeviceRef, attr: number, known?: NameRow) => {
    const name = known ?? names.names([attr]).get(attr)
    if (name && isFullText(name)) text.changed(device.seq)
  }

  const store = {
    names,

    /** Reindexes the free text of up to `limit` changed devices (see text.ts); returns how many. */
    flushText: (limit: number) => text.flush(limit),

    /**
     * Runs `fn` in a transaction (a savepoint when the caller already holds one) and keeps the
     * name cache honest about what committed.
     */
    write<T>(fn: () => T): T {
      if (depth === 0) names.begin(db.$client.inTransaction)
      depth++
      let committed = false
      try {
        const result = db.transaction(() => fn())
        committed = true
        return result
      } finally {
        depth--
        if (depth === 0) names.end(committed)
      }
    },

    findDevice: (tenantId: string, id: string): DeviceRow | undefined => q.deviceById.get({ tenantId, id }),

    /** A new device row, with its hidden id attribute (which also makes it count in its status). */
    insertDevice(tenantId: string, id: string, status: number): DeviceRow {
      const { seq } = q.insertDeviceRow.get({ tenantId, id, status })!
      const device = { seq, id, status, tagsEtag: null }
      const attr = names.ensure(tenantId, DEVICE_ID.scope, DEVICE_ID.name).id
      store.setAttribute(tenantId, device, attr, [{ idx: null, value: id }])
      return device
    },

    deviceAttributes: (tenantId: string, device: number): AttributeRow[] =>
      q.attributesOfDevice.all({ tenantId, device }),

    /** One attribute of one device, without loading the rest. */
    attributeRows: (tenantId: string, device: number, attr: number): ValueRow[] =>
      q.rowsOfAttribute.all({ tenantId, device, attr }),

    /** Devices (of any status) that have `value` for `attr`, oldest first. */
    devicesWithValue(
      tenantId: string,
      attr: number,
      value: string | number,
    ): { seq: number; status: number }[] {
      // Sorted here: ordering by device in SQL tempts SQLite into walking the by-device index of the whole tenant.
      return db
        .selectDistinct({ seq: attributes.device, status: attributes.status })
        .from(attributes)
        .where(
          and(
            eq(attributes.tenantId, tenantId),
            eq(attributes.attr, attr),
            inArray(attributes.status, [...ALL_STATUS_CODES]),
            eq(attributes.value, value),
          ),
        )
        .all()
        .sort((a, b) => a.seq - b.seq)
    },

    /**
     * The distinct values of `attr` among devices of `statuses`, sorted: one index seek per value
     * (a group list over a million devices is a dozen seeks, not a million-row scan).
     */
    distinctValues(tenantId: string, attr: number, statuses: readonly number[]): (string | number)[] {
      const seen = new Set<string | number>()
      for (const status of statuses) {
        let row = q.firstValue.get({ tenantId, attr, status })
        while (row && row.value !== null) {
          seen.add(row.value)
          row = q.nextValue.get({ tenantId, attr, status, after: row.value })
        }
      }
      return [...seen].sort((a, b) =>
        typeof a !== typeof b ? (typeof a === 'number' ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0,
      )
    },

    /** Ids of the devices of one status, oldest first. */
    deviceIdsWithStatus: (tenantId: string, status: number): string[] =>
      db
        .select({ id: devices.id })
        .from(devices)
        .where(and(eq(devices.tenantId, tenantId), eq(devices.status, status)))
        .orderBy(devices.seq)
        .all()
        .map((row) => row.id),

    /** Ids of the devices of one status that have `value` for `attr`, oldest first. */
    deviceIdsWithValue: (tenantId: string, attr: number, status: number, value: string | number): string[] =>
      db
        .select({ id: devices.id })
        .from(attributes)
        .innerJoin(devices, eq(devices.seq, attributes.device))
        .where(
          and(
            eq(attributes.tenantId, tenantId),
            eq(attributes.attr, attr),
            eq(attributes.status, status),
            eq(attributes.value, value),
          ),
        )
        .orderBy(attributes.device)
        .all()
        .map((row) => row.id),

    /** Devices per status that have each attribute (the hidden id attribute: every device). */
    attributeCounts: (tenantId: string) =>
      db
        .select({
          attr: attributeCounts.attr,
          status: attributeCounts.status,
          devices: attributeCounts.devices,
        })
        .from(attributeCounts)
        .where(and(eq(attributeCounts.tenantId, tenantId), gt(attributeCounts.devices, 0)))
        .all(),

    /** Replaces one attribute's rows (the device gains it when it had none, and counts). */
    setAttribute(
      tenantId: string,
      device: DeviceRef,
      attr: number,
      rows: readonly ValueRow[],
      extra: { description?: string; timestamp?: number; name?: NameRow } = {},
    ): void {
      const before = q.deleteRows.all({ tenantId, device: device.seq, attr })
      for (const row of rows) {
        q.insertRow.run({
          tenantId,
          device: device.seq,
          attr,
          status: device.status,
          idx: row.idx,
          value: row.value,
          description: extra.description ?? null,
          timestamp: extra.timestamp ?? null,
        })
      }
      if (rows.some((row) => row.idx !== null)) q.markArrays.run({ id: attr })
      if (before.length === 0) count(tenantId, attr, device.status, 1)
      if (changesText(before, rows)) textChanged(device, attr, extra.name)
    },

    setCheckIn(tenantId: string, device: DeviceRef, attr: number, value: string): void {
      // Plain statements, cached by bun:sqlite: this runs for every check-in of the fleet.
      const changed = db.$client
        .query(
          'UPDATE inventory_check_ins SET value = ?, status = ?, attr = ? WHERE tenant_id = ? AND device = ?',
        )
        .run(value, device.status, attr, tenantId, device.seq).changes
      if (changed > 0) return
      db.$client
        .query(
          'INSERT INTO inventory_check_ins (tenant_id, device, attr, status, value) VALUES (?, ?, ?, ?, ?)',
        )
        .run(tenantId, device.seq, attr, device.status, value)
      count(tenantId, attr, device.status, 1)
    },

    checkInTimes(tenantId: string, ids: readonly string[]): Map<string, Date> {
      if (ids.length === 0) return new Map()
      const rows = db
        .select({ id: devices.id, value: checkIns.value })
        .from(devices)
        .innerJoin(checkIns, and(eq(checkIns.tenantId, devices.tenantId), eq(checkIns.device, devices.seq)))
        .where(and(eq(devices.tenantId, tenantId), inArray(devices.id, [...ids])))
        .all()
      return new Map(rows.map((row) => [row.id, new Date(String(row.value))]))
    },

    removeAttribute(tenantId: string, device: DeviceRef, attr: number): void {
      const before = q.deleteRows.all({ tenantId, device: device.seq, attr })
      if (before.length > 0) {
        count(tenantId, attr, device.status, -1)
        if (changesText(before)) textChanged(device, attr)
        forgetIfUnused(tenantId, attr)
      }
    },

    /** Moves a device, its rows and its counts to another status. */
    setStatus(tenantId: string, device: DeviceRef, status: number): void {
      if (device.status === status) return
      for (const attr of attrsOf(tenantId, device.seq)) {
        count(tenantId, attr, device.status, -1)
        count(tenantId, attr, status, 1)
      }
      db.update(attributes)
        .set({ status })
        .where(and(eq(attributes.tenantId, tenantId), eq(attributes.device, device.seq)))
        .run()
      db.update(checkIns).set({ status }).where(checkInKey(tenantId, device.seq)).run()
      db.update(devices).set({ status }).where(eq(devices.seq, device.seq)).run()
      device.status = status
      text.changed(device.seq)
    },

    deleteDevice(tenantId: string, device: DeviceRef): void {
      const attrs = attrsOf(tenantId, device.seq)
      for (const attr of attrs) count(tenantId, attr, device.status, -1)
      text.removed(device.seq)
      db.delete(attributes)
        .where(and(eq(attributes.tenantId, tenantId), eq(attributes.device, device.seq)))
        .run()
      db.delete(checkIns).where(checkInKey(tenantId, device.seq)).run()
      db.delete(devices)
        .where(and(eq(devices.tenantId, tenantId), eq(devices.seq, device.seq)))
        .run()
      for (const attr of attrs) forgetIfUnused(tenantId, attr)
    },

    setTagsEtag(tenantId: string, device: DeviceRef, etag: string): void {
      db.update(devices)
        .set({ tagsEtag: etag })
        .where(and(eq(devices.tenantId, tenantId), eq(devices.seq, device.seq)))
        .run()
    },
  }
  return store
}
