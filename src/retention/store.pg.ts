import type { PgDatabase } from '../../db/pg.ts'
import type { PurgeBatch, RetentionStore } from './store.ts'

type Row = {
  seq: number
  finished: Date
  tenantId: string
  deploymentId: string
  deviceId: string
  log: boolean
  removable: boolean
}

/**
 * The PostgreSQL implementation (see store.ts for what is kept and why): the same statements, in
 * one transaction per batch. Cursors stay in Unix milliseconds, as the service keeps them.
 */
export function createPgRetentionStore(db: PgDatabase): RetentionStore {
  return {
    purgeBatch: (cutoff, after, limit) =>
      db.$client.begin(async (tx): Promise<PurgeBatch> => {
        const afterFinished = new Date(after.finished)
        const rows = (await tx`
          SELECT dd.seq::float8 AS seq, dd.finished, dd.tenant_id AS "tenantId",
                 dd.deployment_id AS "deploymentId", dd.device_id AS "deviceId", dd.log,
                 (d.finished IS NOT NULL AND (dd.deleted IS NOT NULL OR EXISTS (
                   SELECT 1 FROM deployments_device_deployments n
                    WHERE n.tenant_id = dd.tenant_id AND n.device_id = dd.device_id AND NOT n.active
                      AND n.deleted IS NULL AND n.created > dd.created))) AS removable
            FROM deployments_device_deployments dd
            LEFT JOIN deployments_deployments d ON d.id = dd.deployment_id
           WHERE NOT dd.active AND dd.finished < ${new Date(cutoff)}
             AND (dd.finished > ${afterFinished} OR (dd.finished = ${afterFinished} AND dd.seq > ${after.seq}))
           ORDER BY dd.finished, dd.seq LIMIT ${limit}`) as Row[]
        let rowsDeleted = 0
        let logsDeleted = 0
        for (const row of rows) {
          if (row.log) {
            const gone = await tx`
              DELETE FROM deployments_device_logs
               WHERE tenant_id = ${row.tenantId} AND deployment_id = ${row.deploymentId} AND device_id = ${row.deviceId}`
            logsDeleted += gone.count
            if (!row.removable)
              await tx`UPDATE deployments_device_deployments SET log = false WHERE seq = ${row.seq}`
          }
          if (row.removable)
            rowsDeleted += (await tx`DELETE FROM deployments_device_deployments WHERE seq = ${row.seq}`).count
        }
        const last = rows.at(-1)
        return {
          visited: rows.length,
          rowsDeleted,
          logsDeleted,
          next: last ? { finished: last.finished.getTime(), seq: last.seq } : after,
        }
      }),
  }
}
