import { stat } from 'node:fs/promises'
import { createFleetGauges } from './gauges.ts'
import type { MetricsSource } from './metrics.ts'

const fileSize = (path: string) =>
  stat(path).then(
    (info) => info.size,
    () => 0,
  )

/** A SQLite data dir's gauges: the fleet counted on the metrics worker, the file and its WAL from disk. */
export function sqliteMetricsSource(databasePath: string): MetricsSource {
  return {
    fleet: createFleetGauges(databasePath),
    databaseBytes: () => fileSize(databasePath),
    walBytes: () => fileSize(`${databasePath}-wal`),
  }
}
