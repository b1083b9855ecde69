import { openDatabase } from '../../../db/client.ts'
import type { SearchRequest } from './filters.ts'
import { createDeviceSearch, type DeviceSearch } from './search.ts'

/** The messages a search worker understands (see searcher.ts). */
export type WorkerRequest =
  | { kind: 'open'; path: string }
  | { kind: 'search'; id: number; tenantId: string; request: SearchRequest }

declare const self: Worker

let search: DeviceSearch | undefined

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const message = event.data
  if (message.kind === 'open') {
    const db = openDatabase(message.path)
    db.$client.run('PRAGMA query_only = 1')
    search = createDeviceSearch(db)
    return
  }
  try {
    if (!search) throw new Error('search worker used before it was opened')
    self.postMessage({ id: message.id, result: search.search(message.tenantId, message.request) })
  } catch (err) {
    self.postMessage({
      id: message.id,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    })
  }
}
