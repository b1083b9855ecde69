import type { SearchRequest } from './filters.ts'
import type { Device } from './model.ts'
import type { WorkerRequest } from './search-worker.ts'

type Reply = { id: number; result?: { devices: Device[]; total: number }; error?: string }

/**
 * Runs device searches on a worker thread with its own read connection (WAL lets it read while
 * the main thread writes). A search over a million devices takes milliseconds to, for unusual
 * filters, seconds of CPU; here it never holds up the device requests the main thread serves,
 * and it uses the second core. Searches queue in order on the one worker.
 */
/**
 * Where the worker's code is: beside this file when running from source; inside a compiled binary,
 * entrypoints sit under /$bunfs/root/ at their source paths (scripts/build.ts builds with --root .).
 */
const WORKER_URL = import.meta.url.startsWith('file:///$bunfs/')
  ? '/$bunfs/root/src/services/inventory/search-worker.ts'
  : new URL('./search-worker.ts', import.meta.url).href

export function createSearcher(databasePath: string) {
  let worker: Worker | undefined
  let nextId = 1
  const waiting = new Map<number, { resolve: (r: Reply['result']) => void; reject: (e: Error) => void }>()

  function start(): Worker {
    const created = new Worker(WORKER_URL)
    created.onmessage = (event: MessageEvent<Reply>) => {
      const { id, result, error } = event.data
      const pending = waiting.get(id)
      waiting.delete(id)
      if (!pending) return
      if (error !== undefined) pending.reject(new Error(`device search failed: ${error}`))
      else pending.resolve(result)
    }
    created.onerror = (event) => {
      for (const pending of waiting.values())
        pending.reject(new Error(`device search worker failed: ${event.message}`))
      waiting.clear()
      worker = undefined
    }
    created.postMessage({ kind: 'open', path: databasePath } satisfies WorkerRequest)
    created.unref()
    return created
  }

  return {
    search(tenantId: string, request: SearchRequest): Promise<{ devices: Device[]; total: number }> {
      worker ??= start()
      const id = nextId++
      const message: WorkerRequest = { kind: 'search', id, tenantId, request }
      const reply = new Promise<{ devices: Device[]; total: number }>((resolve, reject) => {
        waiting.set(id, { resolve: (r) => resolve(r!), reject })
      })
      worker.postMessage(message)
      return reply
    },
    stop(): void {
      worker?.terminate()
      worker = undefined
      for (const pending of waiting.values()) pending.reject(new Error('device search stopped'))
      waiting.clear()
    },
  }
}

export type Searcher = ReturnType<typeof createSearcher>
