import type { Database } from '../../db/client.ts'

/** What the fleet looks like right now, for the gauges of /metrics. */
export type FleetGauges = {
  /** Devices per device-auth status (accepted, pending, rejected, preauthorized, noauth). */
  devicesByStatus: Record<string, number>
  activeDeployments: number
  /** Devices listed in active deployments, and how many of them picked their deployment up. */
  activeDeploymentDevices: { listed: number; started: number }
  /** Bytes of the artifacts stored, as recorded at upload. */
  artifactBytes: number
  /** Events kept in the outbox, and the newest one's seq (subscribers read up to it). */
  outbox: { events: number; lastSeq: number }
  /**
   * How many events each durable subscriber (webhooks, deviceconfig, ...) has still to handle: the
   * newest seq minus the seq it last saved (saved about once a second, so up to a second behind).
   */
  subscriberBacklog: Record<string, number>
}

/** Reads the figures /metrics reports; one method, so a scrape is one round trip to wherever it runs. */
export interface MetricsStore {
  /** The current gauges, read in one transaction; counts every device, so it runs off the request path. */
  fleetGauges(): Promise<FleetGauges>
}

/**
 * The SQLite implementation. Counting a million devices by status takes 150-300 ms, so this runs
 * on the metrics worker's own read connection (see worker.ts), never on the thread serving devices.
 */
export function createMetricsStore(db: Database): MetricsStore {
  const client = db.$client
  const byStatus = client.query('SELECT status, count(*) AS n FROM deviceauth_devices GROUP BY status')
  const deployments = client.query(
    'SELECT count(*) AS n, coalesce(sum(max_devices), 0) AS listed, coalesce(sum(device_count), 0) AS started FROM deployments_deployments WHERE finished IS NULL',
  )
  const artifacts = client.query('SELECT coalesce(sum(size), 0) AS bytes FROM deployments_artifacts')
  const outbox = client.query(
    'SELECT count(*) AS events, coalesce(max(seq), 0) AS lastSeq FROM events_outbox',
  )
  // AUTOINCREMENT's counter is the newest seq ever handed out, also once pruning emptied the outbox.
  const newest = client.query(
    "SELECT coalesce(max(seq), 0) AS seq FROM sqlite_sequence WHERE name = 'events_outbox'",
  )
  const cursors = client.query('SELECT name, seq FROM events_cursors ORDER BY name')
  const read = client.transaction((): FleetGauges => {
    const statuses = byStatus.all() as { status: string; n: number }[]
    const active = deployments.get() as { n: number; listed: number; started: number }
    const last = (newest.get() as { seq: number }).seq
    const saved = cursors.all() as { name: string; seq: number }[]
    return {
      devicesByStatus: Object.fromEntries(statuses.map((row) => [row.status, row.n])),
      activeDeployments: active.n,
      activeDeploymentDevices: { listed: active.listed, started: active.started },
      artifactBytes: (artifacts.get() as { bytes: number }).bytes,
      outbox: outbox.get() as { events: number; lastSeq: number },
      subscriberBacklog: Object.fromEntries(saved.map((row) => [row.name, Math.max(0, last - row.seq)])),
    }
  })
  return {
    fleetGauges: async () => read(),
  }
}
