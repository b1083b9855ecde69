import { and, asc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { PgDatabase, PgTransaction } from '../../../db/pg.ts'
import { type LoadedDevice, loadedRows } from './device-writer.ts'
import { DEVICE_ID, type NameRow } from './names.ts'
import type { AttributeRow, DeviceRow } from './store.rows.ts'
import {
  attributeCounts,
  attributeNames,
  attributes,
  checkIns,
  devices,
  deviceText,
  stringOf,
} from './tables.pg.ts'
import { changesText, isFullText } from './text.ts'
import { vectorOf } from './text.words.ts'
import type { ValueRow } from './values.ts'

/** Anything a query runs on: the pool or a store method's transaction. */
export type PgQueryable = PgDatabase | PgTransaction

/** A stored jsonb scalar, read as its text and type (drivers differ on how they hand jsonb back). */
export const valueColumns = {
  text: sql<string | null>`${attributes.value} #>> '{}'`,
  type: sql<string | null>`jsonb_typeof(${attributes.value})`,
}
export const decodeValue = (row: { text: string | null; type: string | null }): string | number | null =>
  row.text === null ? null : row.type === 'number' ? Number(row.text) : row.text

/**
 * A value for a jsonb column or comparison, as JSON text in a text parameter: Drizzle's jsonb
 * mapping and Bun's client would each encode a string (storing it quoted twice), and Bun binds a
 * bare number as an integer, which does not cast to jsonb.
 */
export const jsonValue = (value: unknown) =>
  value === null ? null : sql`${JSON.stringify(value)}::text::jsonb`

const deviceColumns = { seq: devices.seq, id: devices.id, status: devices.status, tagsEtag: devices.tagsEtag }
const key = (tenantId: string, attr: number, status: number) => `${attr}\u0000${status}\u0000${tenantId}`

/** The device with this id, if inventory knows it; `lock` holds it until the transaction ends. */
export async function findPgDevice(
  q: PgQueryable,
  tenantId: string,
  id: string,
  lock = false,
): Promise<DeviceRow | undefined> {
  const query = q
    .select(deviceColumns)
    .from(devices)
    .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
  return (lock ? await query.for('update') : await query)[0]
}

/** The rows of these names of one scope that the tenant has used. */
export const findPgNames = (q: PgQueryable, tenantId: string, scope: string, names: readonly string[]) =>
  q
    .select()
    .from(attributeNames)
    .where(
      and(
        eq(attributeNames.tenantId, tenantId),
        eq(attributeNames.scope, scope),
        inArray(attributeNames.name, [...names]),
      ),
    )

/** The name's row, if the tenant has used it. */
export async function findPgName(
  q: PgQueryable,
  tenantId: string,
  scope: string,
  name: string,
): Promise<NameRow | undefined> {
  return (await findPgNames(q, tenantId, scope, [name]))[0]
}

/** An attribute row's columns as writers and renderers read them. */
export const pgRowColumns = {
  device: attributes.device,
  attr: attributes.attr,
  idx: attributes.idx,
  ...valueColumns,
  description: attributes.description,
  timestamp: attributes.timestamp,
}

/** The key of a name within one transaction's names. */
const nameKey = (tenantId: string, scope: string, name: string) => `${tenantId}\u0000${scope}\u0000${name}`

/**
 * No attribute row of the tenant refers to the name, nor a check-in row (index probes: tenant, attr
 * lead both value indexes).
 */
const unreferenced = sql`NOT EXISTS (SELECT 1 FROM ${attributes} WHERE ${attributes.tenantId} = ${attributeNames.tenantId} AND ${attributes.attr} = ${attributeNames.id})
  AND NOT EXISTS (SELECT 1 FROM ${checkIns} WHERE ${checkIns.tenantId} = ${attributeNames.tenantId} AND ${checkIns.attr} = ${attributeNames.id})`

/**
 * A transaction's writer. Names are not cached across transactions on PostgreSQL: a name no device
 * has any more is deleted (forgetUnusedNames), possibly by another instance, so a writer refers only
 * to names it holds for the whole transaction: names it locked `FOR KEY SHARE` (which a deleter's
 * `FOR UPDATE` waits for), names it created, and names a device it has locked already has rows of
 * (a deleter sees those rows until this transaction commits).
 */
export function createPgWrite(tx: PgTransaction) {
  const held = new Map<string, NameRow>()
  /** Names whose rows this transaction deleted (ids): maybe unused once it commits. */
  const removed = new Set<number>()
  const deltas = new Map<string, { tenantId: string; attr: number; status: number; delta: number }>()
  const dirty = new Map<number, string>()
  const count = (tenantId: string, attr: number, status: number, delta: number) => {
    const entry = deltas.get(key(tenantId, attr, status))
    if (entry) entry.delta += delta
    else deltas.set(key(tenantId, attr, status), { tenantId, attr, status, delta })
  }
  const textChanged = (tenantId: string, seq: number, name: Pick<NameRow, 'scope' | 'name'> | undefined) => {
    if (name && isFullText(name)) dirty.set(seq, tenantId)
  }
  const deviceRows = (tenantId: string, seq: number) =>
    and(eq(attributes.tenantId, tenantId), eq(attributes.device, seq))
  const attributeRows = (tenantId: string, seq: number, attr: number) =>
    and(deviceRows(tenantId, seq), eq(attributes.attr, attr))

  /**
   * The names' rows, locked (`FOR KEY SHARE`) or created, in name order. A name deleted meanwhile
   * is not returned by the lock: it is created again (a new id) on the next round.
   */
  async function ensureNames(tenantId: string, scope: string, names: readonly string[]) {
    const found = new Map<string, NameRow>()
    let missing: string[] = []
    for (const name of [...new Set(names)].sort()) {
      const known = held.get(nameKey(tenantId, scope, name))
      if (known) found.set(name, known)
      else missing.push(name)
    }
    const lock = (names: string[]) =>
      findPgNames(tx, tenantId, scope, names).orderBy(asc(attributeNames.name)).for('key share')
    for (let round = 0; missing.length > 0; round++) {
      // Each round needs a deletion committed between two statements of this one: never in practice.
      if (round === 5) throw new Error(`inventory names ${scope}/${missing.join(', ')} keep being deleted`)
      let rows = await lock(missing)
      if (rows.length < missing.length) {
        await tx
          .insert(attributeNames)
          .values(missing.map((name) => ({ tenantId, scope, name })))
          .onConflictDoNothing()
        rows = await lock(missing)
      }
      for (const row of rows) {
        found.set(row.name, row)
        held.set(nameKey(tenantId, scope, row.name), row)
      }
      missing = missing.filter((name) => !found.has(name))
    }
    return found
  }

  const write = {
    ensureNames,

    /** Adds `delta` devices to the count of `attr` in `status`, applied by finish(). */
    count,

    async ensureName(tenantId: string, scope: string, name: string): Promise<NameRow> {
      return (await ensureNames(tenantId, scope, [name])).get(name)!
    },

    /** The device with every attribute row and name, ready to diff against a request. */
    async load(tenantId: string, device: DeviceRow): Promise<LoadedDevice> {
      const rows = await tx
        .select({ ...pgRowColumns, name: attributeNames })
        .from(attributes)
        .innerJoin(attributeNames, eq(attributeNames.id, attributes.attr))
        .where(deviceRows(tenantId, device.seq))
      const loaded: LoadedDevice = { device, rows: new Map(), names: new Map() }
      for (const row of rows) {
        const attributeRow: AttributeRow = { ...row, value: decodeValue(row) }
        const list = loaded.rows.get(row.attr)
        if (list) list.push(attributeRow)
        else loaded.rows.set(row.attr, [attributeRow])
        loaded.names.set(row.attr, row.name)
        held.set(nameKey(tenantId, row.name.scope, row.name.name), row.name)
      }
      return loaded
    },

    /**
     * A new device row (locked by its insert), with its hidden id attribute; undefined when
     * another transaction created the device meanwhile.
     */
    async insertDevice(tenantId: string, id: string, status: number): Promise<LoadedDevice | undefined> {
      const [row] = await tx
        .insert(devices)
        .values({ tenantId, id, status })
        .onConflictDoNothing()
        .returning(deviceColumns)
      if (!row) return undefined
      const loaded: LoadedDevice = { device: row, rows: new Map(), names: new Map() }
      const attr = await write.ensureName(tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      await write.setAttribute(tenantId, loaded, attr, [{ idx: null, value: id }], {})
      return loaded
    },

    /** Replaces one attribute's rows (the device gains it when it had none, and counts). */
    async setAttribute(
      tenantId: string,
      loaded: LoadedDevice,
      attr: NameRow,
      rows: readonly ValueRow[],
      extra: { description?: string; timestamp?: number },
    ): Promise<void> {
      const { seq, status } = loaded.device
      // The device is locked and loaded: rows it does not have need no delete.
      const before = loaded.rows.get(attr.id)
      const existed = before !== undefined
      if (existed) await tx.delete(attributes).where(attributeRows(tenantId, seq, attr.id))
      await tx.insert(attributes).values(
        rows.map((row) => ({
          tenantId,
          device: seq,
          attr: attr.id,
          status,
          idx: row.idx,
          value: jsonValue(row.value),
          description: extra.description ?? null,
          timestamp: extra.timestamp ?? null,
        })),
      )
      if (rows.some((row) => row.idx !== null) && !attr.arrays) {
        await tx.update(attributeNames).set({ arrays: true }).where(eq(attributeNames.id, attr.id))
        held.set(nameKey(tenantId, attr.scope, attr.name), { ...attr, arrays: true })
      }
      if (!existed) count(tenantId, attr.id, status, 1)
      loaded.rows.set(attr.id, loadedRows(seq, attr.id, rows, extra))
      loaded.names.set(attr.id, attr)
      if (changesText(before ?? [], rows)) textChanged(tenantId, seq, attr)
    },

    /** Removes one attribute of the device (and its count). */
    async removeAttribute(tenantId: string, loaded: LoadedDevice, attr: number): Promise<void> {
      const { seq, status } = loaded.device
      const before = loaded.rows.get(attr)
      if (!before) return
      await tx.delete(attributes).where(attributeRows(tenantId, seq, attr))
      count(tenantId, attr, status, -1)
      removed.add(attr)
      if (changesText(before)) textChanged(tenantId, seq, loaded.names.get(attr))
      loaded.rows.delete(attr)
    },

    /** Moves a device, its rows and its counts to another status. */
    async setStatus(tenantId: string, loaded: LoadedDevice, status: number): Promise<void> {
      const { device } = loaded
      if (device.status === status) return
      for (const attr of loaded.rows.keys()) {
        count(tenantId, attr, device.status, -1)
        count(tenantId, attr, status, 1)
      }
      await tx.update(attributes).set({ status }).where(deviceRows(tenantId, device.seq))
      // The check-in time, in its own table (see tables.ts), is not among the loaded rows.
      const moved = await tx
        .update(checkIns)
        .set({ status })
        .where(and(eq(checkIns.tenantId, tenantId), eq(checkIns.device, device.seq)))
        .returning({ attr: checkIns.attr })
      for (const { attr } of moved) {
        count(tenantId, attr, device.status, -1)
        count(tenantId, attr, status, 1)
      }
      await tx.update(devices).set({ status }).where(eq(devices.seq, device.seq))
      device.status = status
    },

    /** Deletes the device with every attribute row, count and its text. */
    async deleteDevice(tenantId: string, loaded: LoadedDevice): Promise<void> {
      const { seq, status } = loaded.device
      for (const attr of loaded.rows.keys()) {
        count(tenantId, attr, status, -1)
        removed.add(attr)
      }
      await tx.delete(attributes).where(deviceRows(tenantId, seq))
      const gone = await tx
        .delete(checkIns)
        .where(and(eq(checkIns.tenantId, tenantId), eq(checkIns.device, seq)))
        .returning({ attr: checkIns.attr })
      for (const { attr } of gone) {
        count(tenantId, attr, status, -1)
        removed.add(attr)
      }
      await tx.delete(devices).where(and(eq(devices.tenantId, tenantId), eq(devices.seq, seq)))
      await tx.delete(deviceText).where(eq(deviceText.seq, seq))
      dirty.delete(seq)
    },

    async setTagsEtag(tenantId: string, seq: number, etag: string): Promise<void> {
      await tx
        .update(devices)
        .set({ tagsEtag: etag })
        .where(and(eq(devices.tenantId, tenantId), eq(devices.seq, seq)))
    },

    /** The names whose rows the transaction deleted: for forgetUnusedNames once it has committed. */
    removed: () => removed,

    /** Applies the counts and rebuilds the text of the devices the transaction touched. */
    async finish(): Promise<void> {
      const changes = [...deltas.entries()]
        .filter(([, entry]) => entry.delta !== 0)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([, { tenantId, attr, status, delta }]) => ({ tenantId, attr, status, devices: delta }))
      // One statement; its rows are upserted in the order given.
      if (changes.length > 0)
        await tx
          .insert(attributeCounts)
          .values(changes)
          .onConflictDoUpdate({
            target: [attributeCounts.tenantId, attributeCounts.attr, attributeCounts.status],
            set: { devices: sql`${attributeCounts.devices} + excluded.devices` },
          })
      for (const [seq, tenantId] of [...dirty].sort(([a], [b]) => a - b)) await rebuildText(tx, tenantId, seq)
    },
  }
  return write
}

/**
 * Deletes those of these names (by id) that no attribute row refers to any more, with their counts,
 * so that names devices send and replace do not pile up. Called after the transaction that deleted
 * their rows has committed: of several transactions removing a name's last rows at once, the last to
 * commit sees the others' deletions. A name is deleted in a transaction that locks its row
 * `FOR UPDATE` (waiting for the writers holding it `FOR KEY SHARE`, see createPgWrite) and then, in a
 * new statement that sees what they committed, deletes it if still unreferenced; a writer asking for it meanwhile waits, finds it gone and creates it anew. Locks are
 * taken without waiting (`SKIP LOCKED`) or one row at a time, so this never deadlocks with writers.
 * Ids come from a sequence: a deleted name's id is never handed out again.
 */
export async function forgetUnusedNames(db: PgDatabase, removed: ReadonlySet<number>): Promise<void> {
  if (removed.size === 0) return
  const candidates = await db
    .select({ id: attributeNames.id })
    .from(attributeNames)
    .where(and(inArray(attributeNames.id, [...removed]), unreferenced))
  if (candidates.length === 0) return
  // First all at once, skipping rows a writer holds; then those one by one, waiting for their writers.
  const busy = await forgetNames(
    db,
    candidates.map((row) => row.id),
    'skip',
  )
  for (const id of busy) await forgetNames(db, [id], 'wait')
}

/**
 * One transaction: locks these names `FOR UPDATE` and deletes those still unreferenced, with their
 * counts; answers the ids it skipped (`skip`: locked by a writer). Only `wait` waits, and for one row.
 */
async function forgetNames(db: PgDatabase, ids: number[], mode: 'skip' | 'wait'): Promise<number[]> {
  return db.transaction(async (tx) => {
    const locked = (
      await tx
        .select({ id: attributeNames.id })
        .from(attributeNames)
        .where(inArray(attributeNames.id, ids))
        .for('update', mode === 'skip' ? { skipLocked: true } : {})
    ).map((row) => row.id)
    if (locked.length > 0) {
      // A new statement: it sees the rows of every writer that held a name until the lock was ours.
      const deleted = await tx
        .delete(attributeNames)
        .where(and(inArray(attributeNames.id, locked), unreferenced))
        .returning({ id: attributeNames.id, tenantId: attributeNames.tenantId })
      const byTenant = Map.groupBy(deleted, (row) => row.tenantId)
      for (const [tenantId, rows] of byTenant)
        await tx.delete(attributeCounts).where(
          and(
            eq(attributeCounts.tenantId, tenantId),
            inArray(
              attributeCounts.attr,
              rows.map((row) => row.id),
            ),
          ),
        )
    }
    // Skipped: locked by a writer, or deleted meanwhile (then there is nothing left to wait for).
    return mode === 'skip' ? ids.filter((id) => !locked.includes(id)) : []
  })
}

/** The names of the attributes that are part of a device's text (see text.ts). */
const fullText: SQL = sql`(${attributeNames.scope} IN ('identity', 'inventory', 'tags')
  OR (${attributeNames.scope} = 'system' AND ${attributeNames.name} = 'group')
  OR (${attributeNames.scope} = ${DEVICE_ID.scope} AND ${attributeNames.name} = ${DEVICE_ID.name}))`

/** Rewrites one device's words from its string values, in the order SQLite's index reads them. */
async function rebuildText(tx: PgTransaction, tenantId: string, seq: number): Promise<void> {
  const rows = await tx
    .select({ text: valueColumns.text })
    .from(attributes)
    .innerJoin(attributeNames, eq(attributeNames.id, attributes.attr))
    .where(
      and(
        eq(attributes.tenantId, tenantId),
        eq(attributes.device, seq),
        sql`jsonb_typeof(${attributes.value}) = 'string'`,
        fullText,
      ),
    )
    .orderBy(asc(attributes.attr), stringOf(attributes.value))
  const words = vectorOf(rows.map((row) => row.text).join(' '))
  await tx
    .insert(deviceText)
    .values({ seq, words })
    .onConflictDoUpdate({ target: deviceText.seq, set: { words } })
}
