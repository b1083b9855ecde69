import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { PgDatabase, PgTransaction } from '../../../db/pg.ts'
import { attrIdsIn, exceeds, type LoadedDevice, unchanged, valueIn } from './device-writer.ts'
import { STATUS_CODES } from './model.ts'
import { DEVICE_ID } from './names.ts'
import { renderPgDevices } from './render.pg.ts'
import {
  createPgWrite,
  decodeValue,
  findPgDevice,
  findPgName,
  forgetUnusedNames,
  valueColumns,
} from './store.rows.pg.ts'
import type { AttributeTotal, InventoryStore } from './store.ts'
import { attributeCounts, attributeNames, attributes, checkIns, devices, stringOf } from './tables.pg.ts'
import { type AttributeInput, fromRows, toRows } from './values.ts'

type Write = ReturnType<typeof createPgWrite>

const sameDay = (iso: unknown, now: Date) =>
  typeof iso === 'string' && iso.slice(0, 10) === now.toISOString().slice(0, 10)

/** Rolls back the transaction of a report refused after its device was created. */
class RefusedReport extends Error {}

/**
 * inventory's store on PostgreSQL (see store.ts for what each method promises): the same rows as
 * SQLite's, each method one transaction that locks the devices it writes. The free text is
 * rebuilt inside the writing transaction, so `flushText` never has anything left to do.
 */
export function createPgInventoryStore(db: PgDatabase): InventoryStore {
  // Long as a whole: one closure over the helpers its methods share; each method is short.
  /** Names a committed write emptied but could not forget (the database failed in between). */
  const unforgotten = new Set<number>()
  /**
   * Runs `fn` in one transaction with a row writer, whose counts and texts are applied at the end;
   * once it has committed, the names whose last rows it deleted are forgotten.
   */
  async function writing<T>(fn: (w: Write, tx: PgTransaction) => Promise<T>): Promise<T> {
    let w: Write | undefined
    const result = await db.transaction(async (tx) => {
      w = createPgWrite(tx)
      const result = await fn(w, tx)
      await w.finish()
      return result
    })
    const removed = new Set([...unforgotten, ...w!.removed()])
    try {
      await forgetUnusedNames(db, removed)
      for (const id of removed) unforgotten.delete(id)
    } catch {
      // The write has committed and is answered as done; its names are forgotten after a later write.
      for (const id of removed) unforgotten.add(id)
    }
    return result
  }

  /** Upserts `inputs` into `scope` (with `replace`, the scope's other attributes go); whether anything changed. */
  async function apply(
    w: Write,
    tenantId: string,
    loaded: LoadedDevice,
    scope: string,
    inputs: readonly AttributeInput[],
    options: { replace?: boolean; timestamp?: number } = {},
  ): Promise<boolean> {
    let changed = false
    const names = await w.ensureNames(
      tenantId,
      scope,
      inputs.map((input) => input.name),
    )
    const kept = new Set<number>()
    for (const input of inputs) {
      const attr = names.get(input.name)!
      kept.add(attr.id)
      if (unchanged(loaded.rows.get(attr.id), input, options.timestamp)) continue
      const { description } = input
      await w.setAttribute(tenantId, loaded, attr, toRows(input.value), {
        description,
        timestamp: options.timestamp,
      })
      changed = true
    }
    if (options.replace) {
      for (const attr of attrIdsIn(loaded, scope)) {
        if (kept.has(attr)) continue
        await w.removeAttribute(tenantId, loaded, attr)
        changed = true
      }
    }
    return changed
  }

  /** The device locked for this transaction, created (with `system/created_ts`) when new. */
  async function findOrCreate(
    w: Write,
    tx: PgTransaction,
    tenantId: string,
    deviceId: string,
    status: number,
    now: Date,
  ): Promise<{ loaded: LoadedDevice; created: boolean }> {
    const existing = await findPgDevice(tx, tenantId, deviceId, true)
    if (existing) return { loaded: await w.load(tenantId, existing), created: false }
    const loaded = await w.insertDevice(tenantId, deviceId, status)
    // Created meanwhile by another transaction: its insert has committed once the lock is ours.
    if (!loaded) return findOrCreate(w, tx, tenantId, deviceId, status, now)
    await apply(w, tenantId, loaded, 'system', [{ name: 'created_ts', value: now.toISOString() }])
    return { loaded, created: true }
  }

  /** `system/updated_ts` after an inventory write: moved when something changed, and once a day. */
  async function touchUpdated(w: Write, tenantId: string, loaded: LoadedDevice, changed: boolean, now: Date) {
    if (changed || !sameDay(valueIn(loaded, 'system', 'updated_ts'), now)) {
      await apply(w, tenantId, loaded, 'system', [{ name: 'updated_ts', value: now.toISOString() }])
    }
  }

  /** The device's group attribute (loaded), its id, and its current group. */
  function groupOf(loaded: LoadedDevice): { attr: number; group: string } | undefined {
    for (const [attr, name] of loaded.names) {
      const rows = loaded.rows.get(attr)
      if (name.scope === 'system' && name.name === 'group' && rows)
        return { attr, group: String(fromRows(rows)) }
    }
    return undefined
  }

  /** Locks and loads the listed devices that exist, in seq order. */
  async function lockDevices(tx: PgTransaction, w: Write, tenantId: string, ids: readonly string[]) {
    const rows = await tx
      .select({ seq: devices.seq, id: devices.id, status: devices.status, tagsEtag: devices.tagsEtag })
      .from(devices)
      .where(and(eq(devices.tenantId, tenantId), inArray(devices.id, [...new Set(ids)])))
      .orderBy(asc(devices.seq))
      .for('update')
    const loaded: LoadedDevice[] = []
    for (const row of rows) loaded.push(await w.load(tenantId, row))
    return loaded
  }

  /** Seqs and ids of the devices having `value` for `attr` (any status, or one). */
  async function devicesWithValue(tenantId: string, attr: number, value: string, status?: number) {
    return db
      .select({ seq: devices.seq, id: devices.id })
      .from(attributes)
      .innerJoin(devices, eq(devices.seq, attributes.device))
      .where(
        and(
          eq(attributes.tenantId, tenantId),
          eq(attributes.attr, attr),
          status === undefined ? undefined : eq(attributes.status, status),
          sql`${stringOf(attributes.value)} = ${value}`,
        ),
      )
      .orderBy(asc(attributes.device))
  }

  return {
    async getDevice(tenantId, deviceId) {
      const row = await findPgDevice(db, tenantId, deviceId)
      const device = row && (await renderPgDevices(db, tenantId, [row.seq]))[0]
      if (!row || !device) return undefined
      return row.tagsEtag ? { device, etag: row.tagsEtag } : { device }
    },

    async getGroup(tenantId, deviceId) {
      const device = await findPgDevice(db, tenantId, deviceId)
      if (!device) return undefined
      const attr = await findPgName(db, tenantId, 'system', 'group')
      if (!attr) return null
      const rows = await db
        .select({ idx: attributes.idx, ...valueColumns })
        .from(attributes)
        .where(
          and(
            eq(attributes.tenantId, tenantId),
            eq(attributes.device, device.seq),
            eq(attributes.attr, attr.id),
          ),
        )
      return rows.length > 0
        ? String(fromRows(rows.map((row) => ({ idx: row.idx, value: decodeValue(row) }))))
        : null
    },

    setGroup: (tenantId, deviceId, group) =>
      writing(async (w, tx) => {
        const [loaded] = await lockDevices(tx, w, tenantId, [deviceId])
        if (!loaded) return false
        const attr = await w.ensureName(tenantId, 'system', 'group')
        await w.setAttribute(tenantId, loaded, attr, [{ idx: null, value: group }], {})
        return true
      }),

    clearGroup: (tenantId, deviceId, group) =>
      writing(async (w, tx) => {
        const [loaded] = await lockDevices(tx, w, tenantId, [deviceId])
        const current = loaded && groupOf(loaded)
        if (!loaded || current?.group !== group) return false
        await w.removeAttribute(tenantId, loaded, current.attr)
        return true
      }),

    assignGroup: (tenantId, group, deviceIds) =>
      writing(async (w, tx) => {
        const found = await lockDevices(tx, w, tenantId, deviceIds)
        const attr = await w.ensureName(tenantId, 'system', 'group')
        let updated = 0
        for (const loaded of found) {
          if (groupOf(loaded)?.group === group) continue
          await w.setAttribute(tenantId, loaded, attr, [{ idx: null, value: group }], {})
          updated++
        }
        return { matched: found.length, updated }
      }),

    unassignGroup: (tenantId, group, deviceIds) =>
      writing(async (w, tx) => {
        let removed = 0
        for (const loaded of await lockDevices(tx, w, tenantId, deviceIds)) {
          const current = groupOf(loaded)
          if (current?.group !== group) continue
          await w.removeAttribute(tenantId, loaded, current.attr)
          removed++
        }
        return removed
      }),

    deleteGroup: (tenantId, group) =>
      writing(async (w, tx) => {
        const attr = await findPgName(tx, tenantId, 'system', 'group')
        if (!attr) return 0
        const members = await devicesWithValue(tenantId, attr.id, group)
        let removed = 0
        for (const loaded of await lockDevices(
          tx,
          w,
          tenantId,
          members.map((m) => m.id),
        )) {
          if (groupOf(loaded)?.group !== group) continue
          await w.removeAttribute(tenantId, loaded, attr.id)
          removed++
        }
        return removed
      }),

    async listGroups(tenantId, statuses) {
      const attr = await findPgName(db, tenantId, 'system', 'group')
      if (!attr || statuses.length === 0) return []
      const rows = await db
        .selectDistinct({ group: stringOf(attributes.value) })
        .from(attributes)
        .where(
          and(
            eq(attributes.tenantId, tenantId),
            eq(attributes.attr, attr.id),
            inArray(attributes.status, [...statuses]),
          ),
        )
        .orderBy(stringOf(attributes.value))
      return rows.flatMap((row) => (row.group === null ? [] : [String(row.group)]))
    },

    setTags: (tenantId, deviceId, inputs, options) =>
      writing(async (w, tx) => {
        const [loaded] = await lockDevices(tx, w, tenantId, [deviceId])
        if (options.ifMatch && loaded?.device.tagsEtag !== options.ifMatch) return 'etag-mismatch'
        if (!loaded) return 'missing'
        if (exceeds(loaded, 'tags', inputs, options)) return 'too-many'
        await apply(w, tenantId, loaded, 'tags', inputs, {
          replace: options.replace,
          timestamp: options.timestamp,
        })
        await w.setTagsEtag(tenantId, loaded.device.seq, options.etag)
        return 'ok'
      }),

    async attributeTotals(tenantId) {
      const rows = await db
        .select({
          scope: attributeNames.scope,
          name: attributeNames.name,
          status: attributeCounts.status,
          devices: attributeCounts.devices,
        })
        .from(attributeCounts)
        .innerJoin(attributeNames, eq(attributeNames.id, attributeCounts.attr))
        .where(and(eq(attributeCounts.tenantId, tenantId), gt(attributeCounts.devices, 0)))
      return rows.filter((row) => row.scope !== DEVICE_ID.scope) satisfies AttributeTotal[]
    },

    async statusTotals(tenantId) {
      // The hidden id attribute is on every device: its totals are the devices per status.
      const idAttr = await findPgName(db, tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      if (!idAttr) return new Map()
      const rows = await db
        .select({ status: attributeCounts.status, devices: attributeCounts.devices })
        .from(attributeCounts)
        .where(and(eq(attributeCounts.tenantId, tenantId), eq(attributeCounts.attr, idAttr.id)))
      return new Map(rows.filter((row) => row.devices > 0).map((row) => [row.status, row.devices]))
    },

    writeIdentity: (tenantId, deviceId, inputs, status, now) =>
      writing(async (w, tx) => {
        const { loaded } = await findOrCreate(w, tx, tenantId, deviceId, status, now)
        await w.setStatus(tenantId, loaded, status)
        await apply(w, tenantId, loaded, 'identity', inputs)
      }),

    removeDevice: (tenantId, deviceId) =>
      writing(async (w, tx) => {
        const [loaded] = await lockDevices(tx, w, tenantId, [deviceId])
        if (loaded) await w.deleteDevice(tenantId, loaded)
        return loaded !== undefined
      }),

    async acceptedDeviceIds(tenantId, group) {
      if (group === undefined) {
        const rows = await db
          .select({ id: devices.id })
          .from(devices)
          .where(and(eq(devices.tenantId, tenantId), eq(devices.status, STATUS_CODES.accepted)))
          .orderBy(asc(devices.seq))
        return rows.map((row) => row.id)
      }
      const attr = await findPgName(db, tenantId, 'system', 'group')
      if (!attr) return []
      return (await devicesWithValue(tenantId, attr.id, group, STATUS_CODES.accepted)).map((row) => row.id)
    },

    writeCheckIns: (batch) =>
      writing(async (w, tx) => {
        const byTenant = new Map<string, Map<string, Date>>()
        for (const { tenantId, deviceId, at } of batch) {
          const ats = byTenant.get(tenantId) ?? new Map<string, Date>()
          ats.set(deviceId, at)
          byTenant.set(tenantId, ats)
        }
        for (const [tenantId, ats] of [...byTenant].sort(([a], [b]) => (a < b ? -1 : 1))) {
          const attr = await w.ensureName(tenantId, 'system', 'check_in_time')
          // One statement a tenant into the check-ins' own table (see tables.ts): the known devices,
          // held against removal and status changes until the commit, in seq order like every
          // writer that locks several devices.
          const list = JSON.stringify([...ats].map(([id, at]) => ({ id, at: at.toISOString() })))
          const written = await tx.execute<{
            inserted: number | string
            status: number | string
          }>(sql`WITH "d" AS (
            SELECT "dv".seq, "dv".status, "v".at FROM inventory_devices "dv"
            JOIN jsonb_to_recordset(${list}::text::jsonb) AS "v"(id text, at text) ON "v".id = "dv".id
            WHERE "dv".tenant_id = ${tenantId} ORDER BY "dv".seq FOR SHARE OF "dv")
            INSERT INTO inventory_check_ins (tenant_id, device, attr, status, value)
            SELECT ${tenantId}, seq, ${attr.id}, status, to_jsonb(at) FROM "d" ORDER BY seq
            ON CONFLICT (tenant_id, device) DO UPDATE
            SET value = excluded.value, status = excluded.status, attr = excluded.attr
            WHERE inventory_check_ins.value #>> '{}' < excluded.value #>> '{}'
            RETURNING (xmax = 0)::int AS inserted, status`)
          for (const row of written)
            if (Number(row.inserted) === 1) w.count(tenantId, attr.id, Number(row.status), 1)
        }
      }),

    async checkInTimes(tenantId, deviceIds) {
      if (deviceIds.length === 0) return new Map()
      const rows = await db
        .select({ id: devices.id, value: sql<string>`${checkIns.value} #>> '{}'` })
        .from(devices)
        .innerJoin(checkIns, and(eq(checkIns.tenantId, devices.tenantId), eq(checkIns.device, devices.seq)))
        .where(and(eq(devices.tenantId, tenantId), inArray(devices.id, [...deviceIds])))
      return new Map(rows.map((row) => [row.id, new Date(row.value)]))
    },

    async updateInventory(tenantId, deviceId, inputs, write) {
      try {
        return await writing(async (w, tx) => {
          const { loaded, created } = await findOrCreate(w, tx, tenantId, deviceId, 0, write.now)
          // Nothing of a refused report stays, not even a device it would have created.
          if (exceeds(loaded, 'inventory', inputs, write)) throw new RefusedReport()
          const wrote = await apply(w, tenantId, loaded, 'inventory', inputs, { replace: write.replace })
          await touchUpdated(w, tenantId, loaded, wrote || created, write.now)
          return wrote || created ? 'changed' : 'unchanged'
        })
      } catch (err) {
        if (err instanceof RefusedReport) return 'too-many'
        throw err
      }
    },

    deleteInventory: (tenantId, deviceId, now) =>
      writing(async (w, tx) => {
        const [loaded] = await lockDevices(tx, w, tenantId, [deviceId])
        if (!loaded) return
        const changed = await apply(w, tenantId, loaded, 'inventory', [], { replace: true })
        await touchUpdated(w, tenantId, loaded, changed, now)
      }),

    flushText: async () => 0,
  }
}
