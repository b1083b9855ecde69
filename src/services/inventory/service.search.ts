import { NotFoundError } from '../../gateway/errors.ts'
import type { Paging } from '../../gateway/paging.ts'
import type { SearchRequest } from './filters.ts'
import type { Device } from './model.ts'
import type { InventorySearchStore } from './store.search.ts'

export type SearchPage = { devices: Device[]; total: number; paging: Paging }

/**
 * The device searches, run by the search store after `beforeSearch` has made the free-text index
 * see every earlier write.
 */
export function createInventorySearch(searches: InventorySearchStore, beforeSearch: () => Promise<unknown>) {
  async function searchDevices(tenantId: string, request: SearchRequest): Promise<SearchPage> {
    await beforeSearch()
    const { devices, total } = await searches.search(tenantId, request)
    return { devices, total, paging: { page: request.page, perPage: request.perPage } }
  }

  return {
    searchDevices,

    async listGroupDevices(tenantId: string, group: string, paging: Paging) {
      const { devices, total } = await searchDevices(tenantId, {
        filters: [{ scope: 'system', name: 'group', op: '$eq', value: group }],
        sort: [],
        page: paging.page,
        perPage: paging.perPage,
        attributes: [{ scope: 'system', name: 'group' }],
      })
      if (total === 0) throw new NotFoundError('group not found')
      return { ids: devices.map((device) => device.id), total, paging }
    },
  }
}
