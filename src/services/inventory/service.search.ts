import { NotFoundError } from '../../gateway/errors.ts'
import { type Paging, parsePaging } from '../../gateway/paging.ts'
import { parseIdentitySearch, parseListQuery, parseSearchBody, type SearchRequest } from './filters.ts'
import type { Device } from './model.ts'
import type { Searcher } from './searcher.ts'

export type SearchPage = { devices: Device[]; total: number; paging: Paging }

/**
 * The device lists and searches; they run on the search worker (see searcher.ts), after
 * `beforeSearch` has committed what they must see.
 */
export function createInventorySearch(searcher: () => Searcher, beforeSearch: () => void) {
  async function run(tenantId: string, request: SearchRequest): Promise<SearchPage> {
    beforeSearch()
    const { devices, total } = await searcher().search(tenantId, request)
    return { devices, total, paging: { page: request.page, perPage: request.perPage } }
  }

  return {
    /** v1 `GET /devices`: the raw query string, since every unknown parameter is a filter. */
    listDevices: (tenantId: string, query: URLSearchParams) => run(tenantId, parseListQuery(query)),

    /** v2 `POST /filters/search`. */
    searchDevices: (tenantId: string, body: unknown) => run(tenantId, parseSearchBody(body)),

    /** v2alpha1 `POST /identities/search`. */
    searchIdentities: (tenantId: string, body: unknown) => run(tenantId, parseIdentitySearch(body)),

    /** The ids of a group's devices, oldest first; 404 when no device is in it. */
    async listGroupDevices(tenantId: string, group: string, query: { page?: string; per_page?: string }) {
      const paging = parsePaging(query)
      const { devices, total } = await run(tenantId, {
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
