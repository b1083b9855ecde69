import type { Deps } from '../../deps.ts'
import { BadRequestError, NotFoundError, PreconditionFailedError } from '../../gateway/errors.ts'
import type { DeviceWriter } from './device-writer.ts'
import {
  ALL_STATUS_CODES,
  GROUP_NAME,
  MAX_GROUP_NAME_LENGTH,
  MAX_LEGACY_GROUP_NAME_LENGTH,
  MAX_TAGS,
  STATUS_CODES,
  statusCode,
} from './model.ts'
import { DEVICE_ID, type InventoryStore } from './store.ts'
import { checkAttributes, fromRows } from './values.ts'

/** Mender's bulk answer; zero counts are left out. */
export type UpdateResult = { matched_count?: number; updated_count?: number }

type TierCounts = { standard: number; micro: number; system: number }
/** Mender's device statistics. */
export type DeviceStatistics = { devices_by_status: { accepted: TierCounts; pending: TierCounts } }
/** An attribute offered as a filter, with how many devices have it. */
export type FilterAttribute = { name: string; scope: string; count: number }

const result = (matched: number, updated: number): UpdateResult => ({
  ...(matched ? { matched_count: matched } : {}),
  ...(updated ? { updated_count: updated } : {}),
})

/** A group name: required, letters, digits, `-` and `_`, at most `max` characters. */
function checkGroupName(group: unknown, max = MAX_GROUP_NAME_LENGTH): string {
  if (typeof group !== 'string' || group === '') throw new BadRequestError('group: a group name is required')
  if (group.length > max) throw new BadRequestError(`group: the name must be at most ${max} characters`)
  if (!GROUP_NAME.test(group)) {
    throw new BadRequestError('group: the name may contain only letters, digits, "-" and "_"')
  }
  return group
}

const MAX_FILTER_ATTRIBUTES = 500

const deviceNotFound = () => new NotFoundError('device not found')

export function createInventoryManagement(deps: Deps, store: InventoryStore, writer: DeviceWriter) {
  const { clock, ids } = deps

  const groupAttr = (tenantId: string) => store.names.find(tenantId, 'system', 'group')

  function currentGroup(tenantId: string, seq: number): string | undefined {
    const attr = groupAttr(tenantId)
    if (!attr) return undefined
    const rows = store.attributeRows(tenantId, seq, attr.id)
    return rows.length > 0 ? String(fromRows(rows)) : undefined
  }

  return {
    getGroup(tenantId: string, deviceId: string): string | null {
      const device = store.findDevice(tenantId, deviceId)
      if (!device) throw deviceNotFound()
      return currentGroup(tenantId, device.seq) ?? null
    },

    setGroup(tenantId: string, deviceId: string, group: unknown): void {
      const name = checkGroupName(group)
      store.write(() => {
        const device = store.findDevice(tenantId, deviceId)
        if (!device) throw deviceNotFound()
        const attr = store.names.ensure(tenantId, 'system', 'group')
        store.setAttribute(tenantId, device, attr.id, [{ idx: null, value: name }])
      })
    },

    clearGroup(tenantId: string, deviceId: string, group: string): void {
      store.write(() => {
        const device = store.findDevice(tenantId, deviceId)
        const attr = groupAttr(tenantId)
        if (!device || !attr || currentGroup(tenantId, device.seq) !== group) throw deviceNotFound()
        store.removeAttribute(tenantId, device, attr.id)
      })
    },

    assignGroup(tenantId: string, group: string, deviceIds: unknown): UpdateResult {
      const name = checkGroupName(group)
      const list = checkDeviceIds(deviceIds)
      return store.write(() => {
        const attr = store.names.ensure(tenantId, 'system', 'group')
        let matched = 0
        let updated = 0
        for (const id of new Set(list)) {
          const device = store.findDevice(tenantId, id)
          if (!device) continue
          matched++
          if (currentGroup(tenantId, device.seq) === name) continue
          store.setAttribute(tenantId, device, attr.id, [{ idx: null, value: name }])
          updated++
        }
        return result(matched, updated)
      })
    },

    unassignGroup(tenantId: string, group: string, deviceIds: unknown): UpdateResult {
      checkGroupName(group, MAX_LEGACY_GROUP_NAME_LENGTH)
      const list = checkDeviceIds(deviceIds)
      return store.write(() => {
        const attr = groupAttr(tenantId)
        let removed = 0
        for (const id of new Set(list)) {
          const device = store.findDevice(tenantId, id)
          if (!device || !attr || currentGroup(tenantId, device.seq) !== group) continue
          store.removeAttribute(tenantId, device, attr.id)
          removed++
        }
        return result(removed, removed)
      })
    },

    deleteGroup(tenantId: string, group: string): UpdateResult {
      checkGroupName(group, MAX_LEGACY_GROUP_NAME_LENGTH)
      return store.write(() => {
        const attr = groupAttr(tenantId)
        if (!attr) return result(0, 0)
        const members = store.devicesWithValue(tenantId, attr.id, group)
        for (const device of members) store.removeAttribute(tenantId, device, attr.id)
        return result(members.length, members.length)
      })
    },

    listGroups(tenantId: string, status?: string): string[] {
      const attr = groupAttr(tenantId)
      if (!attr) return []
      const code = status === undefined || status === '' ? undefined : statusCode(status)
      if (code === 0 || (status && code === undefined)) return []
      return store
        .distinctValues(tenantId, attr.id, code === undefined ? ALL_STATUS_CODES : [code])
        .map(String)
    },

    setTags(tenantId: string, deviceId: string, body: unknown, mode: 'replace' | 'merge', ifMatch?: string) {
      const inputs = checkAttributes(body)
      const tooMany = () => new BadRequestError(`too many tags: a device may have at most ${MAX_TAGS}`)
      if (mode === 'replace' && inputs.length > MAX_TAGS) throw tooMany()
      store.write(() => {
        const device = store.findDevice(tenantId, deviceId)
        if (ifMatch && device?.tagsEtag !== ifMatch) throw new PreconditionFailedError("ETag doesn't match")
        if (!device) return
        const loaded = writer.load(tenantId, device)
        if (mode === 'merge') {
          const added = inputs.filter((input) => !writer.hasAttribute(loaded, 'tags', input.name))
          if (writer.countIn(loaded, 'tags') + added.length > MAX_TAGS) throw tooMany()
        }
        const timestamp = clock.now().getTime()
        writer.apply(tenantId, loaded, 'tags', inputs, { replace: mode === 'replace', timestamp })
        store.setTagsEtag(tenantId, device, ids.uuid())
      })
    },

    statistics(tenantId: string): DeviceStatistics {
      const idAttr = store.names.find(tenantId, DEVICE_ID.scope, DEVICE_ID.name)
      const byStatus = new Map<number, number>()
      for (const row of store.attributeCounts(tenantId)) {
        if (row.attr === idAttr?.id) byStatus.set(row.status, row.devices)
      }
      const tier = (status: number) => ({ standard: byStatus.get(status) ?? 0, micro: 0, system: 0 })
      return {
        devices_by_status: { accepted: tier(STATUS_CODES.accepted), pending: tier(STATUS_CODES.pending) },
      }
    },

    /**
     * Attributes to offer as filters: how many devices have each, most common first (then by scope
     * and name), at most 500. Exact counts from the maintained totals, where Mender samples.
     */
    filterAttributes(tenantId: string): FilterAttribute[] {
      const totals = new Map<number, number>()
      for (const row of store.attributeCounts(tenantId)) {
        totals.set(row.attr, (totals.get(row.attr) ?? 0) + row.devices)
      }
      const names = store.names.names(totals.keys())
      const list: FilterAttribute[] = []
      for (const [attr, count] of totals) {
        const name = names.get(attr)
        if (name && name.scope !== DEVICE_ID.scope) list.push({ name: name.name, scope: name.scope, count })
      }
      const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
      list.sort((a, b) => b.count - a.count || byText(a.scope, b.scope) || byText(a.name, b.name))
      return list.slice(0, MAX_FILTER_ATTRIBUTES)
    },
  }
}

function checkDeviceIds(deviceIds: unknown): string[] {
  if (!Array.isArray(deviceIds) || deviceIds.some((id) => typeof id !== 'string')) {
    throw new BadRequestError('failed to decode request body: expected a JSON array of device ids')
  }
  if (deviceIds.length === 0) throw new BadRequestError('no device ids given')
  return deviceIds
}
