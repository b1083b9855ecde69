import type { Deps } from '../../deps.ts'
import { BadRequestError, NotFoundError } from '../../gateway/errors.ts'
import type { Paging } from '../../gateway/paging.ts'
import { createSlicer } from '../../slices.ts'
import type { SearchRequest } from './filters.ts'
import { type Device, MAX_INVENTORY_ATTRIBUTES, statusCode } from './model.ts'
import { type ApiFilter, createSavedFilters, type FilterDefinition } from './service.filters.ts'
import {
  createInventoryManagement,
  type DeviceStatistics,
  type FilterAttribute,
  type UpdateResult,
} from './service.management.ts'
import { createInventorySearch, type SearchPage } from './service.search.ts'
import { type AttributeInput, checkAttributes, identityValue } from './values.ts'

/**
 * Devices whose free text changed are reindexed every second, and before each search (at most
 * 10 000 then: a search sees every earlier write unless a bulk change, a large group assignment
 * or a mass import, left more than that, which the timer then catches up with). Both in slices
 * of a few milliseconds (see slices.ts) between which requests run: a device's reindex costs a
 * tenth of a millisecond on a small database and ten times that on a large busy one.
 */
const TEXT_FLUSH_MS = 1000
const TEXT_SLICE_MAX = 2000
const TEXT_SEARCH_FLUSH = 10_000

const tooManyAttributes = () =>
  new BadRequestError(`too many inventory attributes: a device may have at most ${MAX_INVENTORY_ATTRIBUTES}`)

function requireStatus(status: string): number {
  const code = statusCode(status)
  if (code === undefined || code === 0) throw new Error(`inventory: unknown device status "${status}"`)
  return code
}

/** Devices' attributes by scope (identity, inventory, system, tags), groups, and device search. */
export interface InventoryService {
  /** The device's static group, or null; 404 for an unknown device. */
  getGroup(tenantId: string, deviceId: string): Promise<string | null>
  /** Moves the device to `group` (a device is in at most one static group). */
  setGroup(tenantId: string, deviceId: string, group: unknown): Promise<void>
  /** Takes the device out of `group`; 404 when it is unknown or not in that group. */
  clearGroup(tenantId: string, deviceId: string, group: string): Promise<void>
  /** Puts the listed devices in `group`; unknown ids are skipped. */
  assignGroup(tenantId: string, group: string, deviceIds: unknown): Promise<UpdateResult>
  /** Takes the listed devices out of `group` (those in it). */
  unassignGroup(tenantId: string, group: string, deviceIds: unknown): Promise<UpdateResult>
  /** Empties `group`: every device in it leaves it. */
  deleteGroup(tenantId: string, group: string): Promise<UpdateResult>
  /** Every group name in use (by devices of `status`, when given), sorted. */
  listGroups(tenantId: string, status?: string): Promise<string[]>
  /**
   * The user's tags: `replace` (PUT) makes them exactly `body`, `merge` (PATCH) upserts. With
   * `If-Match` the device's current tags ETag must match (412 otherwise, and for an unknown
   * device); without it an unknown device is a silent no-op, as in Mender.
   */
  setTags(
    tenantId: string,
    deviceId: string,
    body: unknown,
    mode: 'replace' | 'merge',
    ifMatch?: string,
  ): Promise<void>
  /** Accepted and pending devices; bender has one device tier ("standard"). */
  statistics(tenantId: string): Promise<DeviceStatistics>
  /** Attributes to offer as filters: how many devices have each, most common first, at most 500. */
  filterAttributes(tenantId: string): Promise<FilterAttribute[]>
  /**
   * One page of the devices matching a search (filters, sort, free text; the attributes to
   * show), with their total. Every write made before the call is seen.
   */
  searchDevices(tenantId: string, request: SearchRequest): Promise<SearchPage>
  /** A page of the tenant's saved filters, by name, with how many there are. */
  listSavedFilters(tenantId: string, paging: Paging): Promise<{ filters: ApiFilter[]; total: number }>
  /** Saves a filter (its terms checked as a search's filters, 400); 409 when the name is taken. Answers its id. */
  createSavedFilter(tenantId: string, definition: FilterDefinition): Promise<string>
  /** One saved filter; 404 when unknown. */
  getSavedFilter(tenantId: string, id: string): Promise<ApiFilter>
  /** Replaces a saved filter's name and terms; 404 when unknown, 409 when the name is another's. */
  replaceSavedFilter(tenantId: string, id: string, definition: FilterDefinition): Promise<void>
  /** Deletes a saved filter; 404 when unknown. */
  deleteSavedFilter(tenantId: string, id: string): Promise<void>
  /** A page of the devices the saved filter matches now; 404 when unknown. */
  searchSavedFilter(tenantId: string, id: string, paging: Paging): Promise<SearchPage>
  /** The ids of the accepted devices the saved filter matches now (only among `among` when given); 404 when unknown. */
  matchingDeviceIds(tenantId: string, filterId: string, among?: readonly string[]): Promise<string[]>
  /**
   * Calls `listener` with each device whose identity (its acceptance included), inventory, static
   * group or tags a write changed, after the write committed; it must only take note.
   */
  onDeviceChanged(listener: (tenantId: string, deviceId: string) => void): void
  /** The ids of a group's devices, oldest first; 404 when no device is in it. */
  listGroupDevices(
    tenantId: string,
    group: string,
    paging: Paging,
  ): Promise<{ ids: string[]; total: number; paging: Paging }>
  /** Create the device if missing and set its identity scope: every id_data key (except "status") plus `status`. */
  upsertIdentity(
    tenantId: string,
    deviceId: string,
    identity: Record<string, unknown>,
    status: string,
  ): Promise<void>
  /** Mirror a deviceauth status change into identity/status. */
  setIdentityStatus(tenantId: string, deviceId: string, status: string): Promise<void>
  /**
   * Remove the device and all its attributes (decommission; last preauthorized auth set deleted).
   * Idempotent: a device already gone is no error (the decommission subscription repeats it).
   */
  removeDevice(tenantId: string, deviceId: string): Promise<void>
  /** Ids of the accepted devices, of one static group or all of them, oldest first. */
  listAcceptedDeviceIds(tenantId: string, group?: string): Promise<string[]>
  /**
   * Writes a batch of check-ins to `system/check_in_time`; devices inventory does not know are
   * skipped. One atomic write.
   */
  writeCheckIns(checkIns: readonly { tenantId: string; deviceId: string; at: Date }[]): Promise<void>
  /** The check-in times (as written by `writeCheckIns`) of those of `deviceIds` that have one. */
  checkInTimes(tenantId: string, deviceIds: readonly string[]): Promise<Map<string, Date>>
  /**
   * A device's inventory report: `replace` (PUT) makes the inventory scope exactly `body`,
   * `merge` (PATCH) upserts it. The whole body is checked before anything is written, in one
   * atomic write.
   */
  updateInventory(tenantId: string, deviceId: string, body: unknown, mode: 'replace' | 'merge'): Promise<void>
  /** One device with every attribute, and its tags ETag when it has tags. */
  getDevice(tenantId: string, deviceId: string): Promise<{ device: Device; etag?: string }>
  /** Clears the inventory scope (Mender's "delete device inventory"); an unknown device is a no-op. */
  deleteInventory(tenantId: string, deviceId: string): Promise<void>
  /** Stops background work; call before closing the database. */
  stop(): void
}

export function createInventoryService(deps: Deps): InventoryService {
  // Long as a whole: one closure over the dependencies its methods share; each method is short.
  const { clock } = deps
  const store = deps.stores.inventory
  const searches = deps.stores.inventorySearch

  const changeListeners: ((tenantId: string, deviceId: string) => void)[] = []
  const changed = (tenantId: string, deviceId: string) => {
    for (const listener of changeListeners) listener(tenantId, deviceId)
  }

  /** Identity attributes and the status partition, created with the device when needed. */
  async function writeIdentity(tenantId: string, deviceId: string, inputs: AttributeInput[], code: number) {
    await store.writeIdentity(tenantId, deviceId, inputs, code, clock.now())
    changed(tenantId, deviceId)
  }

  const textSlices = createSlicer(TEXT_SLICE_MAX)
  const reindex = (limit?: number) => textSlices.run((size) => store.flushText(size), limit)
  let reindexing = false
  const textTimer = setInterval(() => {
    if (reindexing) return
    reindexing = true
    reindex()
      .catch((error) => {
        deps.log.error('inventory: updating the free-text index failed', { error: String(error) })
      })
      .finally(() => {
        reindexing = false
      })
  }, TEXT_FLUSH_MS)
  textTimer.unref()

  const searching = createInventorySearch(searches, () => reindex(TEXT_SEARCH_FLUSH))
  return {
    ...createInventoryManagement(deps, store, changed),
    ...searching,
    ...createSavedFilters(deps.stores.savedFilters, searching.searchDevices, clock, deps.ids),

    onDeviceChanged(listener: (tenantId: string, deviceId: string) => void): void {
      changeListeners.push(listener)
    },

    // --- called by deviceauth after its own change committed ---

    async upsertIdentity(
      tenantId: string,
      deviceId: string,
      identity: Record<string, unknown>,
      status: string,
    ): Promise<void> {
      const code = requireStatus(status)
      const inputs: AttributeInput[] = []
      for (const [name, value] of Object.entries(identity)) {
        if (name === 'status' || name.length === 0 || name.length > 1024) continue
        inputs.push({ name, value: identityValue(value) })
      }
      inputs.push({ name: 'status', value: status })
      await writeIdentity(tenantId, deviceId, inputs, code)
    },

    async setIdentityStatus(tenantId: string, deviceId: string, status: string): Promise<void> {
      await writeIdentity(tenantId, deviceId, [{ name: 'status', value: status }], requireStatus(status))
    },

    async removeDevice(tenantId: string, deviceId: string): Promise<void> {
      await store.removeDevice(tenantId, deviceId)
    },

    // --- called by deployments ---

    listAcceptedDeviceIds: (tenantId: string, group?: string): Promise<string[]> =>
      store.acceptedDeviceIds(tenantId, group),

    /** Deviceauth buffers check-ins off the request path and writes them here, the only copy. */
    writeCheckIns: (checkIns: readonly { tenantId: string; deviceId: string; at: Date }[]): Promise<void> =>
      store.writeCheckIns(checkIns),

    checkInTimes: (tenantId: string, deviceIds: readonly string[]): Promise<Map<string, Date>> =>
      store.checkInTimes(tenantId, deviceIds),

    // --- the device API ---

    async updateInventory(
      tenantId: string,
      deviceId: string,
      body: unknown,
      mode: 'replace' | 'merge',
    ): Promise<void> {
      const inputs = checkAttributes(body)
      if (mode === 'replace' && inputs.length > MAX_INVENTORY_ATTRIBUTES) throw tooManyAttributes()
      const outcome = await store.updateInventory(tenantId, deviceId, inputs, {
        replace: mode === 'replace',
        now: clock.now(),
        max: MAX_INVENTORY_ATTRIBUTES,
      })
      if (outcome === 'too-many') throw tooManyAttributes()
      if (outcome === 'changed') changed(tenantId, deviceId)
    },

    // --- management ---

    async getDevice(tenantId: string, deviceId: string): Promise<{ device: Device; etag?: string }> {
      const found = await store.getDevice(tenantId, deviceId)
      if (!found) throw new NotFoundError('device not found')
      return found
    },

    deleteInventory: (tenantId: string, deviceId: string): Promise<void> =>
      store.deleteInventory(tenantId, deviceId, clock.now()),

    stop(): void {
      clearInterval(textTimer)
      searches.stop()
    },
  }
}
