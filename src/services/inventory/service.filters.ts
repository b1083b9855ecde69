import type { Clock } from '../../clock.ts'
import { ConflictError, NotFoundError } from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import type { Ids } from '../../ids.ts'
import { parseTerms, type SearchRequest } from './filters.ts'
import type { SearchPage } from './service.search.ts'
import type { SavedFilter, SavedFiltersStore } from './store.filters.ts'
import type { FilterTerm } from './tables.ts'

/** A saved filter as Mender's API shows it. */
export type ApiFilter = { id: string; name: string; terms: FilterTerm[] }
/** What makes a saved filter: its name and (checked) terms. */
export type FilterDefinition = { name: string; terms: FilterTerm[] }

const NOT_FOUND = 'Filter not found'
/** Devices read per search when collecting every match. */
const MATCH_PAGE = 500
const NAME_TAKEN = 'A filter with the same name already exists'

const toApiFilter = (filter: SavedFilter): ApiFilter => ({
  id: filter.id,
  name: filter.name,
  terms: filter.terms,
})

/** Saved filters: stored definitions, and the devices each matches now (a search with its terms). */
export function createSavedFilters(
  store: SavedFiltersStore,
  search: (tenantId: string, request: SearchRequest) => Promise<SearchPage>,
  clock: Clock,
  ids: Ids,
) {
  async function requireFilter(tenantId: string, id: string): Promise<SavedFilter> {
    const filter = await store.find(tenantId, id)
    if (!filter) throw new NotFoundError(NOT_FOUND)
    return filter
  }

  return {
    async listSavedFilters(tenantId: string, paging: Paging) {
      const { filters, total } = await store.list(tenantId, {
        offset: pageOffset(paging),
        limit: paging.perPage,
      })
      return { filters: filters.map(toApiFilter), total }
    },

    async createSavedFilter(tenantId: string, definition: FilterDefinition): Promise<string> {
      parseTerms(definition.terms)
      const id = ids.uuid()
      const filter = { tenantId, id, name: definition.name, terms: definition.terms, created: clock.now() }
      if (!(await store.insert(filter))) throw new ConflictError(NAME_TAKEN)
      return id
    },

    getSavedFilter: async (tenantId: string, id: string): Promise<ApiFilter> =>
      toApiFilter(await requireFilter(tenantId, id)),

    async replaceSavedFilter(tenantId: string, id: string, definition: FilterDefinition): Promise<void> {
      parseTerms(definition.terms)
      const result = await store.replace(tenantId, id, definition.name, definition.terms)
      if (result === 'missing') throw new NotFoundError(NOT_FOUND)
      if (result === 'conflict') throw new ConflictError(NAME_TAKEN)
    },

    async deleteSavedFilter(tenantId: string, id: string): Promise<void> {
      if (!(await store.delete(tenantId, id))) throw new NotFoundError(NOT_FOUND)
    },

    async matchingDeviceIds(
      tenantId: string,
      filterId: string,
      among?: readonly string[],
    ): Promise<string[]> {
      const filter = await requireFilter(tenantId, filterId)
      if (among?.length === 0) return []
      const filters = [
        ...parseTerms(filter.terms),
        { scope: 'identity', name: 'status', op: '$eq' as const, value: 'accepted' },
        ...(among ? [{ scope: 'identity', name: 'id', op: '$in' as const, value: [...among] }] : []),
      ]
      const found: string[] = []
      for (let page = 1; ; page++) {
        const { devices, total } = await search(tenantId, { filters, sort: [], page, perPage: MATCH_PAGE })
        found.push(...devices.map((device) => device.id))
        if (devices.length < MATCH_PAGE || found.length >= total) return found
      }
    },

    async searchSavedFilter(tenantId: string, id: string, paging: Paging): Promise<SearchPage> {
      const filter = await requireFilter(tenantId, id)
      return search(tenantId, {
        filters: parseTerms(filter.terms),
        sort: [],
        page: paging.page,
        perPage: paging.perPage,
      })
    },
  }
}
