import type { Database } from '../../db/client.ts'

/** Where a purge pass has got to: device deployments are visited in (finished, seq) order. */
export type PurgeCursor = { finished: number; seq: number }

export type PurgeBatch = {
  /** Device deployments visited; fewer than asked means the pass is over. */
  visited: number
  rowsDeleted: number
  logsDeleted: number
  next: PurgeCursor
}

/** Removes old finished device-deployment history and logs, a small batch per call. */
export interface RetentionStore {
  /**
   * Visits up to `limit` device deployments finished before `cutoff` (ms) past `after`, in one
   * transaction: deletes each one's log, and deletes the row itself unless the device still needs
   * it (see the SQL below). Returns where the next batch starts.
   */
  purgeBatch(cutoff: number, after: PurgeCursor, limit: number): Promise<PurgeBatch>
}

/**
 * The SQLite implementation, over the deployments tables by name (retention is housekeeping across
 * them, not one of the service's rules). A row is kept when its deployment is still active (the
 * device must not be handed it again) or when it is the device's newest finished one that the
 * operator did not delete: the update check compares deployments with that one.
 */
export function createRetentionStore(db: Database): RetentionStore {
  const client = db.$client
  const candidates = client.query(
    `SELECT dd.seq, dd.finished, dd.tenant_id AS tenantId, dd.deployment_id AS deploymentId,
       dd.device_id AS deviceId, dd.log,
       (d.finished IS NOT NULL AND (dd.deleted IS NOT NULL OR EXISTS (
         SELECT 1 FROM deployments_device_deployments n
         WHERE n.tenant_id = dd.tenant_id AND n.device_id = dd.device_id AND n.active = 0
           AND n.deleted IS NULL AND n.created > dd.created))) AS removable
     FROM deployments_device_deployments dd
     LEFT JOIN deployments_deployments d ON d.id = dd.deployment_id
     WHERE dd.active = 0 AND dd.finished < $cutoff
       AND (dd.finished > $finished OR (dd.finished = $finished AND dd.seq > $seq))
     ORDER BY dd.finished, dd.seq LIMIT $limit`,
  )
  const deleteLog = client.query(
    'DELETE FROM deployments_device_logs WHERE tenant_id = ? AND deployment_id = ? AND device_id = ?',
  )
  const clearLogFlag = client.query('UPDATE deployments_device_deployments SET log = 0 WHERE seq = ?')
  const deleteRow = client.query('DELETE FROM deployments_device_deployments WHERE seq = ?')
  type Row = {
    seq: number
    finished: number
    tenantId: string
    deploymentId: string
    deviceId: string
    log: number
    removable: number
  }
  const purge = client.transaction((cutoff: number, after: PurgeCursor, limit: number): PurgeBatch => {
    const rows = candidates.all({ cutoff, finished: after.finished, seq: after.seq, limit }) as Row[]
    let rowsDeleted = 0
    let logsDeleted = 0
    for (const row of rows) {
      if (row.log) {
        logsDeleted += deleteLog.run(row.tenantId, row.deploymentId, row.deviceId).changes
        if (!row.removable) clearLogFlag.run(row.seq)
      }
      if (row.removable) rowsDeleted += deleteRow.run(row.seq).changes
    }
    const last = rows.at(-1)
    return {
      visited: rows.length,
      rowsDeleted,
      logsDeleted,
      next: last ? { finished: last.finished, seq: last.seq } : after,
    }
  })
  return {
    purgeBatch: async (cutoff, after, limit) => purge(cutoff, after, limit),
  }
}
