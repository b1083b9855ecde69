import type { Database } from '../../../db/client.ts'
import { createDeviceWriter, exceeds, type LoadedDevice } from './device-writer.ts'
import { type Device, STATUS_CODES } from './model.ts'
import { DEVICE_ID, type NameRow } from './names.ts'
import { renderDevices } from './render.ts'
import { createInventoryRows } from './store.rows.ts'
import { type AttributeInput, fromRows } from './values.ts'

export { DEVICE_ID }

/** How an attribute write treats the scope: `replace` makes it exactly the inputs, else they are upserted. */
export type ScopeWrite = { replace: boolean; now: Date; max: number }

/** An attribute as offered for filtering: its name, and how many devices of each status have it. */
export type AttributeTotal = { scope: string; name: string; status: number; devices: number }

const sameDay = (iso: unknown, now: Date) =>
  typeof iso === 'string' && iso.slice(0, 10) === now.toISOString().slice(0, 10)

/**
 * Devices' attributes by scope, groups and tags. Each method is one atomic change (or one
 * consistent read); an unchanged value is not rewritten, so an unchanged report costs reads only.
 */
export interface InventoryStore {
  /** One device with every attribute, and its tags ETag when it has tags. */
  getDevice(tenantId: string, deviceId: string): Promise<{ device: Device; etag?: string } | undefined>
  /** The device's static group (null for none); undefined when the device is unknown. */
  getGroup(tenantId: string, deviceId: string): Promise<string | null | undefined>
  /** Puts the device in `group`; false when it is unknown. */
  setGroup(tenantId: string, deviceId: string, group: string): Promise<boolean>
  /** Takes the device out of `group`; false when it is unknown or not in that group. */
  clearGroup(tenantId: string, deviceId: string, group: string): Promise<boolean>
  /** Puts the known devices among `deviceIds` in `group`: how many were found, how many moved. */
  assignGroup(
    tenantId: string,
    group: string,
    deviceIds: readonly string[],
  ): Promise<{ matched: number; updated: number }>
  /** Takes the listed devices that are in `group` out of it; answers how many. */
  unassignGroup(tenantId: string, group: string, deviceIds: readonly string[]): Promise<number>
  /** Empties `group`; answers how many devices left it. */
  deleteGroup(tenantId: string, group: string): Promise<number>
  /** The group names in use by devices of `statuses`, sorted. */
  listGroups(tenantId: string, statuses: readonly number[]): Promise<string[]>
  /**
   * Writes the user's tags with `timestamp` and a new `etag`; with `ifMatch` the current ETag must
   * match (`etag-mismatch` otherwise, and for an unknown device); at most `max` tags.
   */
  setTags(
    tenantId: string,
    deviceId: string,
    inputs: readonly AttributeInput[],
    options: { replace: boolean; ifMatch?: string; timestamp: number; etag: string; max: number },
  ): Promise<'ok' | 'missing' | 'etag-mismatch' | 'too-many'>
  /** How many devices of each status have each attribute (the hidden id attribute left out). */
  attributeTotals(tenantId: string): Promise<AttributeTotal[]>
  /** How many devices each status has. */
  statusTotals(tenantId: string): Promise<Map<number, number>>
  /** Sets identity attributes and the device's status, creating the device when needed. */
  writeIdentity(
    tenantId: string,
    deviceId: string,
    inputs: readonly AttributeInput[],
    status: number,
    now: Date,
  ): Promise<void>
  /** Deletes the device with every attribute; false when it was not there. */
  removeDevice(tenantId: string, deviceId: string): Promise<boolean>
  /** Ids of the accepted devices, of one static group or all of them, oldest first. */
  acceptedDeviceIds(tenantId: string, group?: string): Promise<string[]>
  /**
   * Writes `system/check_in_time` of each known device of the batch (unknown ones are skipped), in
   * its own table (see tables.ts).
   */
  writeCheckIns(batch: readonly { tenantId: string; deviceId: string; at: Date }[]): Promise<void>
  /** The check-in times of those of `deviceIds` that have one. */
  checkInTimes(tenantId: string, deviceIds: readonly string[]): Promise<Map<string, Date>>
  /**
   * A device's inventory report (the device is created when new); `system/updated_ts` moves when
   * something changed and at least once a (UTC) day. `too-many` when the scope would exceed `max`.
   */
  updateInventory(
    tenantId: string,
    deviceId: string,
    inputs: readonly AttributeInput[],
    write: ScopeWrite,
  ): Promise<'changed' | 'unchanged' | 'too-many'>
  /** Clears the inventory scope of a known device; an unknown one is left alone. */
  deleteInventory(tenantId: string, deviceId: string, now: Date): Promise<void>
  /** Reindexes the free text of up to `limit` changed devices; answers how many. */
  flushText(limit: number): Promise<number>
}

export function createInventoryStore(db: Database): InventoryStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const rows = createInventoryRows(db)
  const writer = createDeviceWriter(rows)
  const groupAttr = (tenantId: string) => rows.names.find(tenantId, 'system', 'group')

  function currentGroup(tenantId: string, seq: number): string | undefined {
    const attr = groupAttr(tenantId)
    if (!attr) return undefined
    const values = rows.attributeRows(tenantId, seq, attr.id)
    return values.length > 0 ? String(fromRows(values)) : undefined
  }

  /** `system/updated_ts` after an inventory write: moved when something changed, and once a day. */
  function touchUpdated(tenantId: string, loaded: LoadedDevice, changed: boolean, now: Date): void {
    if (changed || !sameDay(writer.valueOf(loaded, 'system', 'updated_ts'), now)) {
      writer.setSystem(tenantId, loaded, 'updated_ts', now.toISOString())
    }
  }

  return {
    async getDevice(tenantId, deviceId) {
      const row = rows.findDevice(tenantId, deviceId)
      const device = row && renderDevices(db, rows.names.names, tenantId, [row.seq])[0]
      if (!row || !device) return undefined
      return row.tagsEtag ? { device, etag: row.tagsEtag } : { device }
    },

    async getGroup(tenantId, deviceId) {
      const device = rows.findDevice(tenantId, deviceId)
      return device && (currentGroup(tenantId, device.seq) ?? null)
    },

    setGroup: async (tenantId, deviceId, group) =>
      rows.write(() => {
        const device = rows.findDevice(tenantId, deviceId)
        if (!device) return false
        const attr = rows.names.ensure(tenantId, 'system', 'group')
        rows.setAttribute(tenantId, device, attr.id, [{ idx: null, value: group }])
        return true
      }),

    clearGroup: async (tenantId, deviceId, group) =>
      rows.write(() => {
        const device = rows.findDevice(tenantId, deviceId)
        const attr = groupAttr(tenantId)
        if (!device || !attr || currentGroup(tenantId, device.seq) !== group) return false
        rows.removeAttribute(tenantId, device, attr.id)
        return true
      }),

    assignGroup: async (tenantId, group, deviceIds) =>
      rows.write(() => {
        const attr = rows.names.ensure(tenantId, 'system', 'group')
        let matched = 0
        let updated = 0
        for (const id of new Set(deviceIds)) {
          const device = rows.findDevice(tenantId, id)
          if (!device) continue
          matched++
          if (currentGroup(tenantId, device.seq) === group) continue
          rows.setAttribute(tenantId, device, attr.id, [{ idx: null, value: group }])
          updated++
        }
        return { matched, updated }
      }),

    unassignGroup: async (tenantId, group, deviceIds) =>
      rows.write(() => {
        const attr = groupAttr(tenantId)
        let removed = 0
        for (const id of new Set(deviceIds)) {
          const device = rows.findDevice(tenantId, id)
          if (!device || !attr || currentGroup(tenantId, device.seq) !== group) continue
          rows.removeAttribute(tenantId, device, attr.id)
          removed++
        }
        return removed
      }),

    deleteGroup: async (tenantId, group) =>
      rows.write(() => {
        const attr = groupAttr(tenantId)
        if (!attr) return 0
        const members = rows.devicesWithValue(tenantId, attr.id, group)
        for (const device of members) rows.removeAttribute(tenantId, device, attr.id)
        return members.length
      }),

    async listGroups(tenantId, statuses) {
      const attr = groupAttr(tenantId)
      return attr ? rows.distinctValues(tenantId, attr.id, statuses).map(String) : []
    },

    setTags: async (tenantId, deviceId, inputs, options) =>
      rows.write(() => {
        const device = rows.findDevice(tenantId, deviceId)
        if (options.ifMatch && device?.tagsEtag !== options.ifMatch) return 'etag-mismatch'
        if (!device) return 'missing'
        const loaded = writer.load(tenantId, device)
        if (exceeds(loaded, 'tags', inputs, options)) return 'too-many'
        writer.apply(tenantId, loaded, 'tags', inputs, {
          replace: options.replace,
          timestamp: options.timestamp,
        })
        rows.setTagsEtag(tenantId, device, options.etag)
        return 'ok'
      }),

    async attributeTotals(tenantId) {
      const counts = rows.attributeCounts(tenantId)
      const names = rows.names.names(counts.map((row) => row.attr))
      const totals: AttributeTotal[] = []
      for (const row of counts) {
        const name = names.get(row.attr)
        if (!name || name.scope === DEVICE_ID.scope) continue
        totals.push({ scope: name.scope, name: name.name, status: row.status, devices: row.devices })
      }
      return totals
    },

    async statusTotals(tenantId) {
      const idAttr = rows.names.find(tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      const byStatus = new Map<number, number>()
      for (const row of rows.attributeCounts(tenantId)) {
        if (row.attr === idAttr?.id) byStatus.set(row.status, row.devices)
      }
      return byStatus
    },

    writeIdentity: async (tenantId, deviceId, inputs, status, now) =>
      rows.write(() => {
        const { loaded } = writer.findOrCreate(tenantId, deviceId, status, now)
        rows.setStatus(tenantId, loaded.device, status)
        writer.apply(tenantId, loaded, 'identity', inputs)
      }),

    removeDevice: async (tenantId, deviceId) =>
      rows.write(() => {
        const device = rows.findDevice(tenantId, deviceId)
        if (device) rows.deleteDevice(tenantId, device)
        return device !== undefined
      }),

    async acceptedDeviceIds(tenantId, group) {
      if (group === undefined) return rows.deviceIdsWithStatus(tenantId, STATUS_CODES.accepted)
      const attr = rows.names.find(tenantId, 'system', 'group')
      return attr ? rows.deviceIdsWithValue(tenantId, attr.id, STATUS_CODES.accepted, group) : []
    },

    writeCheckIns: async (batch) =>
      rows.write(() => {
        // The name is resolved once a tenant for the whole batch.
        const names = new Map<string, NameRow>()
        for (const { tenantId, deviceId, at } of batch) {
          const device = rows.findDevice(tenantId, deviceId)
          if (!device) continue
          let name = names.get(tenantId)
          if (!name) {
            name = rows.names.ensure(tenantId, 'system', 'check_in_time')
            names.set(tenantId, name)
          }
          rows.setCheckIn(tenantId, device, name.id, at.toISOString())
        }
      }),

    checkInTimes: async (tenantId, deviceIds) => rows.checkInTimes(tenantId, deviceIds),

    async updateInventory(tenantId, deviceId, inputs, write) {
      try {
        return rows.write(() => {
          const { loaded, created } = writer.findOrCreate(tenantId, deviceId, 0, write.now)
          // Nothing of a refused report stays, not even a device it would have created.
          if (exceeds(loaded, 'inventory', inputs, write)) throw new RefusedReport()
          const wrote = writer.apply(tenantId, loaded, 'inventory', inputs, { replace: write.replace })
          touchUpdated(tenantId, loaded, wrote || created, write.now)
          return wrote || created ? 'changed' : 'unchanged'
        })
      } catch (err) {
        if (err instanceof RefusedReport) return 'too-many'
        throw err
      }
    },

    deleteInventory: async (tenantId, deviceId, now) =>
      rows.write(() => {
        const device = rows.findDevice(tenantId, deviceId)
        if (!device) return
        const loaded = writer.load(tenantId, device)
        const changed = writer.apply(tenantId, loaded, 'inventory', [], { replace: true })
        touchUpdated(tenantId, loaded, changed, now)
      }),

    flushText: async (limit) => rows.flushText(limit),
  }
}

/** Rolls back the transaction of a report refused after its device was created. */
class RefusedReport extends Error {}
