import type { Deps } from '../../deps.ts'
import { BadRequestError, NotFoundError, PreconditionFailedError } from '../../gateway/errors.ts'
import {
  ALL_STATUS_CODES,
  GROUP_NAME,
  MAX_GROUP_NAME_LENGTH,
  MAX_LEGACY_GROUP_NAME_LENGTH,
  MAX_TAGS,
  STATUS_CODES,
  statusCode,
} from './model.ts'
import type { InventoryStore } from './store.ts'
import { checkAttributes } from './values.ts'

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

const tooManyTags = () => new BadRequestError(`too many tags: a device may have at most ${MAX_TAGS}`)

const deviceNotFound = () => new NotFoundError('device not found')

export function createInventoryManagement(deps: Pick<Deps, 'clock' | 'ids'>, store: InventoryStore) {
  // Long as a whole: one closure over the dependencies its methods share; each method is short.
  const { clock, ids } = deps

  return {
    async getGroup(tenantId: string, deviceId: string): Promise<string | null> {
      const group = await store.getGroup(tenantId, deviceId)
      if (group === undefined) throw deviceNotFound()
      return group
    },

    async setGroup(tenantId: string, deviceId: string, group: unknown): Promise<void> {
      if (!(await store.setGroup(tenantId, deviceId, checkGroupName(group)))) throw deviceNotFound()
    },

    async clearGroup(tenantId: string, deviceId: string, group: string): Promise<void> {
      if (!(await store.clearGroup(tenantId, deviceId, group))) throw deviceNotFound()
    },

    async assignGroup(tenantId: string, group: string, deviceIds: unknown): Promise<UpdateResult> {
      const name = checkGroupName(group)
      const { matched, updated } = await store.assignGroup(tenantId, name, checkDeviceIds(deviceIds))
      return result(matched, updated)
    },

    async unassignGroup(tenantId: string, group: string, deviceIds: unknown): Promise<UpdateResult> {
      checkGroupName(group, MAX_LEGACY_GROUP_NAME_LENGTH)
      const removed = await store.unassignGroup(tenantId, group, checkDeviceIds(deviceIds))
      return result(removed, removed)
    },

    async deleteGroup(tenantId: string, group: string): Promise<UpdateResult> {
      checkGroupName(group, MAX_LEGACY_GROUP_NAME_LENGTH)
      const removed = await store.deleteGroup(tenantId, group)
      return result(removed, removed)
    },

    async listGroups(tenantId: string, status?: string): Promise<string[]> {
      const code = status === undefined || status === '' ? undefined : statusCode(status)
      if (code === 0 || (status && code === undefined)) return []
      return store.listGroups(tenantId, code === undefined ? ALL_STATUS_CODES : [code])
    },

    async setTags(
      tenantId: string,
      deviceId: string,
      body: unknown,
      mode: 'replace' | 'merge',
      ifMatch?: string,
    ): Promise<void> {
      const inputs = checkAttributes(body)
      if (mode === 'replace' && inputs.length > MAX_TAGS) throw tooManyTags()
      const outcome = await store.setTags(tenantId, deviceId, inputs, {
        replace: mode === 'replace',
        ifMatch,
        timestamp: clock.now().getTime(),
        etag: ids.uuid(),
        max: MAX_TAGS,
      })
      if (outcome === 'etag-mismatch') throw new PreconditionFailedError("ETag doesn't match")
      if (outcome === 'too-many') throw tooManyTags()
    },

    async statistics(tenantId: string): Promise<DeviceStatistics> {
      const byStatus = await store.statusTotals(tenantId)
      const tier = (status: number) => ({ standard: byStatus.get(status) ?? 0, micro: 0, system: 0 })
      return {
        devices_by_status: { accepted: tier(STATUS_CODES.accepted), pending: tier(STATUS_CODES.pending) },
      }
    },

    /**
     * Attributes to offer as filters: how many devices have each, most common first (then by scope
     * and name), at most 500. Exact counts from the maintained totals, where Mender samples.
     */
    async filterAttributes(tenantId: string): Promise<FilterAttribute[]> {
      const totals = new Map<string, FilterAttribute>()
      for (const row of await store.attributeTotals(tenantId)) {
        const key = `${row.scope}\u0000${row.name}`
        const known = totals.get(key)
        if (known) known.count += row.devices
        else totals.set(key, { name: row.name, scope: row.scope, count: row.devices })
      }
      const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
      const list = [...totals.values()]
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
