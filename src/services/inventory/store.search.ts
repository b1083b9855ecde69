import type { Database } from '../../../db/client.ts'
import type { SearchRequest } from './filters.ts'
import type { Device } from './model.ts'
import { createSearcher, type Searcher } from './searcher.ts'

/** A page of a device search: the devices, rendered, and how many match in all. */
export type SearchResult = { devices: Device[]; total: number }

/**
 * Device searches (filters, sort, free text, the attributes to show), the read side of
 * `InventoryStore`'s tables. Each engine plans them its own way (see search.ts for SQLite's).
 */
export interface InventorySearchStore {
  /**
   * One page of the devices of the tenant matching `request`, in its order, and their total. Sees
   * every committed write; free text sees what `InventoryStore.flushText` indexed.
   */
  search(tenantId: string, request: SearchRequest): Promise<SearchResult>
  /** Releases what the engine holds for searching; a later search starts again. */
  stop(): void
}

/**
 * SQLite's searches run on a worker thread with its own read connection (see searcher.ts),
 * started on the first search, so a CLI command or a test that never searches spawns no thread.
 */
export function createInventorySearchStore(db: Database): InventorySearchStore {
  let searcher: Searcher | undefined
  return {
    search(tenantId, request) {
      searcher ??= createSearcher(db.$client.filename)
      return searcher.search(tenantId, request)
    },
    stop() {
      searcher?.stop()
      searcher = undefined
    },
  }
}
