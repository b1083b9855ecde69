import type { NameRow } from './names.ts'
import type { AttributeRow, DeviceRow, InventoryRows } from './store.rows.ts'
import { type AttributeInput, fromRows, sameValue, toRows, type ValueRow } from './values.ts'

/** A device with its attributes as stored, grouped by attribute, ready to diff against a request. */
export type LoadedDevice = {
  device: DeviceRow
  /** Rows by attribute id. */
  rows: Map<number, AttributeRow[]>
  names: Map<number, NameRow>
}

/** The attributes the device has in `scope`. */
export function attrIdsIn(loaded: LoadedDevice, scope: string): number[] {
  return [...loaded.rows.keys()].filter((attr) => loaded.names.get(attr)?.scope === scope)
}

/** Whether writing `input` would change nothing (`timestamp`, on tags, rewrites even unchanged values). */
export function unchanged(
  current: readonly AttributeRow[] | undefined,
  input: AttributeInput,
  timestamp: number | undefined,
): boolean {
  return (
    current !== undefined &&
    timestamp === undefined &&
    sameValue(fromRows(current), input.value) &&
    (current[0]?.description ?? undefined) === input.description
  )
}

/** The current value of one attribute, if the device has it. */
export function valueIn(loaded: LoadedDevice, scope: string, name: string) {
  for (const [attr, rows] of loaded.rows) {
    const known = loaded.names.get(attr)
    if (known?.scope === scope && known.name === name) return fromRows(rows)
  }
  return undefined
}

/** Whether a write of `inputs` into `scope` would leave the device more than `max` attributes there. */
export function exceeds(
  loaded: LoadedDevice,
  scope: string,
  inputs: readonly AttributeInput[],
  write: { replace: boolean; max: number },
): boolean {
  if (write.replace) return inputs.length > write.max
  const inScope = attrIdsIn(loaded, scope)
  const has = (name: string) => inScope.some((attr) => loaded.names.get(attr)?.name === name)
  const added = inputs.filter((input) => !has(input.name))
  return inScope.length + added.length > write.max
}

/** Rows of `rows` as the loaded device keeps them after a write. */
export const loadedRows = (
  device: number,
  attr: number,
  rows: readonly ValueRow[],
  extra: { description?: string; timestamp?: number },
): AttributeRow[] =>
  rows.map((row) => ({
    ...row,
    device,
    attr,
    description: extra.description ?? null,
    timestamp: extra.timestamp ?? null,
  }))

/**
 * The one place attributes are written: every writer (deviceauth's identity, the device's
 * inventory, the user's tags and groups, the server's system attributes) loads the device, diffs,
 * and touches only what changed, so an unchanged report costs reads only.
 */
export function createDeviceWriter(store: InventoryRows) {
  // Long as a whole: one closure over the state its methods share; each method is short.
  function load(tenantId: string, device: DeviceRow): LoadedDevice {
    const rows = new Map<number, AttributeRow[]>()
    for (const row of store.deviceAttributes(tenantId, device.seq)) {
      const list = rows.get(row.attr)
      if (list) list.push(row)
      else rows.set(row.attr, [row])
    }
    return { device, rows, names: store.names.names(rows.keys()) }
  }

  function set(
    tenantId: string,
    loaded: LoadedDevice,
    attr: NameRow,
    input: AttributeInput,
    timestamp?: number,
  ): boolean {
    if (unchanged(loaded.rows.get(attr.id), input, timestamp)) return false
    const description = input.description
    const rows = toRows(input.value)
    store.setAttribute(tenantId, loaded.device, attr.id, rows, { description, timestamp, name: attr })
    loaded.rows.set(attr.id, loadedRows(loaded.device.seq, attr.id, rows, { description, timestamp }))
    loaded.names.set(attr.id, attr)
    return true
  }

  const writer = {
    load,

    /** The device, created (with `system/created_ts`) when inventory does not know it yet. */
    findOrCreate(tenantId: string, deviceId: string, status: number, now: Date) {
      const existing = store.findDevice(tenantId, deviceId)
      if (existing) return { loaded: load(tenantId, existing), created: false }
      const loaded = load(tenantId, store.insertDevice(tenantId, deviceId, status))
      writer.setSystem(tenantId, loaded, 'created_ts', now.toISOString())
      return { loaded, created: true }
    },

    /**
     * Upserts `inputs` into `scope`; with `replace`, the scope's other attributes go. `timestamp`
     * (tags) rewrites even unchanged values. Returns whether anything changed.
     */
    apply(
      tenantId: string,
      loaded: LoadedDevice,
      scope: string,
      inputs: readonly AttributeInput[],
      options: { replace?: boolean; timestamp?: number } = {},
    ): boolean {
      let changed = false
      const kept = new Set<number>()
      for (const input of inputs) {
        const attr = store.names.ensure(tenantId, scope, input.name)
        kept.add(attr.id)
        if (set(tenantId, loaded, attr, input, options.timestamp)) changed = true
      }
      if (options.replace) {
        for (const attr of attrIdsIn(loaded, scope)) {
          if (kept.has(attr)) continue
          store.removeAttribute(tenantId, loaded.device, attr)
          loaded.rows.delete(attr)
          changed = true
        }
      }
      return changed
    },

    /** Sets (or with `undefined`, removes) one system attribute. */
    setSystem(tenantId: string, loaded: LoadedDevice, name: string, value: string | undefined): boolean {
      if (value !== undefined) return writer.apply(tenantId, loaded, 'system', [{ name, value }])
      const attr = store.names.find(tenantId, 'system', name)
      if (!attr || !loaded.rows.has(attr.id)) return false
      store.removeAttribute(tenantId, loaded.device, attr.id)
      loaded.rows.delete(attr.id)
      return true
    },

    /** The current value of one attribute, if the device has it. */
    valueOf: valueIn,
  }
  return writer
}

export type DeviceWriter = ReturnType<typeof createDeviceWriter>
