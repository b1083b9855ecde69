import type { Database } from '../../../db/client.ts'
import { outboxFor } from '../../events/outbox.ts'
import { type DeploymentStatus, type Stats, statusName } from './status.ts'
import type { deployments } from './tables.ts'

type DeploymentRow = typeof deployments.$inferSelect
type DeviceDeploymentRef = { id: string; tenantId: string; deploymentId: string; deviceId: string }

/**
 * The deployment events deployments' stores write with their changes (bender's own; Mender's
 * webhooks have none): a deployment made, its status moving, its end with the per-status counts,
 * and each device's status in it. Device-deployment events are about the device, so one device's
 * events stay in order across deployments.
 */
export function createDeploymentEvents(db: Database) {
  const outbox = outboxFor(db)
  return {
    created(row: DeploymentRow): void {
      outbox.append({
        tenantId: row.tenantId,
        type: 'deployment-created',
        subject: row.id,
        time: row.created,
        data: {
          id: row.id,
          name: row.name,
          artifact_name: row.artifactName,
          status: row.status,
          max_devices: row.maxDevices,
          created: row.created.toISOString(),
        },
      })
    },

    /** `row` is the deployment as it is after the change, `stats` its counts. */
    statusChanged(row: DeploymentRow, status: DeploymentStatus, stats: Stats): void {
      const finished = status === 'finished'
      outbox.append({
        tenantId: row.tenantId,
        type: finished ? 'deployment-finished' : 'deployment-status-changed',
        subject: row.id,
        ...(row.finished ? { time: row.finished } : {}),
        data: {
          id: row.id,
          name: row.name,
          artifact_name: row.artifactName,
          status,
          ...(finished ? { finished: row.finished?.toISOString(), statistics: { status: stats } } : {}),
        },
      })
    },

    deviceStatusChanged(row: DeviceDeploymentRef, status: number, substate?: string | null): void {
      outbox.append({
        tenantId: row.tenantId,
        type: 'device-deployment-status-changed',
        subject: row.deviceId,
        data: {
          id: row.id,
          deployment_id: row.deploymentId,
          device_id: row.deviceId,
          status: statusName(status),
          ...(substate ? { substate } : {}),
        },
      })
    },
  }
}
