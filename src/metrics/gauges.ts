import type { FleetGauges } from './store.ts'
import type { MetricsWorkerRequest } from './worker.ts'

/** Beside this file from source; at its source path under /$bunfs/root/ in a compiled binary (scripts/build.ts). */
const WORKER_URL = import.meta.url.startsWith('file:///$bunfs/')
  ? '/$bunfs/root/src/metrics/worker.ts'
  : new URL('./worker.ts', import.meta.url).href

/** Fleet gauges are read at most this often: counting devices costs a core for a fraction of a second. */
const MAX_AGE_MS = 30_000

type Reply = { id: number; gauges?: FleetGauges; error?: string }

/**
 * Reads the fleet gauges on a worker thread with its own read connection (SQLite: counting a big
 * fleet must not hold the thread serving devices), keeps the last answer for 30 s, and lets
 * concurrent scrapes share one read.
 */
export function createFleetGauges(databasePath: string): FleetGaugeReader {
  let worker: Worker | undefined
  let nextId = 1
  const waiting = new Map<number, (reply: Reply) => void>()

  function start(): Worker {
    const created = new Worker(WORKER_URL)
    created.onmessage = (event: MessageEvent<Reply>) => {
      waiting.get(event.data.id)?.(event.data)
      waiting.delete(event.data.id)
    }
    created.onerror = (event) => {
      for (const done of waiting.values()) done({ id: 0, error: event.message })
      waiting.clear()
      worker = undefined
    }
    created.postMessage({ kind: 'open', path: databasePath } satisfies MetricsWorkerRequest)
    created.unref()
    return created
  }

  function read(): Promise<FleetGauges> {
    worker ??= start()
    const id = nextId++
    const reply = new Promise<FleetGauges>((resolve, reject) => {
      waiting.set(id, ({ gauges, error }) => (gauges ? resolve(gauges) : reject(new Error(error))))
    })
    worker.postMessage({ kind: 'collect', id } satisfies MetricsWorkerRequest)
    return reply
  }

  return cachedGauges(read, () => {
    worker?.terminate()
    worker = undefined
    for (const done of waiting.values()) done({ id: 0, error: 'metrics stopped' })
    waiting.clear()
  })
}

/** The fleet gauges as a scrape reads them: at most once per 30 s, one read shared by concurrent scrapes. */
export type FleetGaugeReader = { current(now?: number): Promise<FleetGauges>; stop(): void }

/** Wraps `read` (one round trip to wherever the gauges are counted) in the 30 s cache. */
export function cachedGauges(
  read: () => Promise<FleetGauges>,
  stop: () => void = () => {},
): FleetGaugeReader {
  let last: { at: number; gauges: FleetGauges } | undefined
  let inFlight: Promise<FleetGauges> | undefined
  return {
    async current(now = Date.now()): Promise<FleetGauges> {
      if (last && now - last.at < MAX_AGE_MS) return last.gauges
      inFlight ??= read().finally(() => {
        inFlight = undefined
      })
      const gauges = await inFlight
      last = { at: now, gauges }
      return gauges
    },
    stop,
  }
}
