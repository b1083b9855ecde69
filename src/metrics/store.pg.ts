import type { PgDatabase } from '../../db/pg.ts'
import type { MetricsStore } from './store.ts'

/**
 * The gauges on PostgreSQL (see store.ts): one read-only repeatable-read transaction, so the
 * figures are of one moment, as SQLite's transaction gives. Counts and sums are cast to float8,
 * which the client hands over as JS numbers (bigint would come back as strings); exact to 2^53.
 */
export function createPgMetricsStore(db: PgDatabase): MetricsStore {
  const client = db.$client
  return {
    fleetGauges: () =>
      client.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
        const statuses = (await tx`
          SELECT status, count(*)::float8 AS n FROM deviceauth_devices GROUP BY status`) as {
          status: string
          n: number
        }[]
        const [active] = (await tx`
          SELECT count(*)::float8 AS n, coalesce(sum(max_devices), 0)::float8 AS listed,
                 coalesce(sum(device_count), 0)::float8 AS started
            FROM deployments_deployments WHERE finished IS NULL`) as [
          { n: number; listed: number; started: number },
        ]
        const [artifacts] = (await tx`
          SELECT coalesce(sum(size), 0)::float8 AS bytes FROM deployments_artifacts`) as [{ bytes: number }]
        const [outbox] = (await tx`
          SELECT count(*)::float8 AS events, coalesce(max(seq), 0)::float8 AS "lastSeq" FROM events_outbox`) as [
          { events: number; lastSeq: number },
        ]
        // The identity's counter is the newest seq ever handed out, also once pruning emptied the
        // outbox (a rolled-back event's number counts too: sequences ignore rollbacks).
        const [newest] = (await tx`
          SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('events_outbox', 'seq')), 0)::float8 AS seq`) as [
          { seq: number },
        ]
        const saved = (await tx`SELECT name, seq::float8 AS seq FROM events_cursors ORDER BY name`) as {
          name: string
          seq: number
        }[]
        return {
          subscriberBacklog: Object.fromEntries(
            saved.map((row) => [row.name, Math.max(0, newest.seq - row.seq)]),
          ),
          devicesByStatus: Object.fromEntries(statuses.map((row) => [row.status, row.n])),
          activeDeployments: active.n,
          activeDeploymentDevices: { listed: active.listed, started: active.started },
          artifactBytes: artifacts.bytes,
          outbox,
        }
      }),
  }
}
