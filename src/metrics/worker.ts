import { openDatabase } from '../../db/client.ts'
import { createMetricsStore, type MetricsStore } from './store.ts'

/** The messages the metrics worker understands (see gauges.ts). */
export type MetricsWorkerRequest = { kind: 'open'; path: string } | { kind: 'collect'; id: number }

declare const self: Worker

let store: MetricsStore | undefined

self.onmessage = async (event: MessageEvent<MetricsWorkerRequest>) => {
  const message = event.data
  if (message.kind === 'open') {
    const db = openDatabase(message.path)
    db.$client.run('PRAGMA query_only = 1')
    store = createMetricsStore(db)
    return
  }
  try {
    if (!store) throw new Error('metrics worker used before it was opened')
    self.postMessage({ id: message.id, gauges: await store.fleetGauges() })
  } catch (err) {
    self.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) })
  }
}
