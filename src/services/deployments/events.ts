import type { Database } from '../../../db/client.ts'
import type { NewEvent } from '../../events/model.ts'
import { outboxFor } from '../../events/outbox.ts'
import { type DeploymentStatus, type Stats, statusName } from './status.ts'
import type { deployments, rolloutLog } from './tables.ts'

type DeploymentRow = typeof deployments.$inferSelect
type DeviceDeploymentRef = { id: string; tenantId: string; deploymentId: string; deviceId: string }
type RolloutLogEntry = Omit<typeof rolloutLog.$inferSelect, 'seq'>

/** An event as a store hands it to its outbox (timed at the append when it has no time). */
export type DeploymentEvent = Omit<NewEvent, 'time'> & { time?: Date }

/**
 * The deployment events deployments' stores write with their changes (bender's own; Mender's
 * webhooks have none): a deployment made, its status moving, its end with the per-status counts,
 * each device's status in it, and each rollout step. Device-deployment events are about the
 * device, so one device's events stay in order across deployments. Pure: both engines' rows
 * build their events here and append them to their own outbox.
 */
export const deploymentEvents = {
  created: (row: DeploymentRow): DeploymentEvent => ({
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
  }),

  /** `row` is the deployment as it is after the change, `stats` its counts. */
  statusChanged(row: DeploymentRow, status: DeploymentStatus, stats: Stats): DeploymentEvent {
    const finished = status === 'finished'
    return {
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
    }
  },

  deviceStatusChanged: (
    row: DeviceDeploymentRef,
    status: number,
    substate?: string | null,
  ): DeploymentEvent => ({
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
  }),

  rolloutLogged: (entry: RolloutLogEntry): DeploymentEvent => ({
    tenantId: entry.tenantId,
    type: 'deployment-rollout',
    subject: entry.deploymentId,
    time: entry.time,
    data: {
      deployment_id: entry.deploymentId,
      kind: entry.kind,
      ...(entry.phase === null ? {} : { phase: entry.phase }),
      reason: entry.reason,
    },
  }),
}

/** The deployment events on SQLite: appended to the outbox in the caller's transaction. */
export function createDeploymentEvents(db: Database) {
  const outbox = outboxFor(db)
  return {
    created: (row: DeploymentRow): void => outbox.append(deploymentEvents.created(row)),
    statusChanged: (row: DeploymentRow, status: DeploymentStatus, stats: Stats): void =>
      outbox.append(deploymentEvents.statusChanged(row, status, stats)),
    deviceStatusChanged: (row: DeviceDeploymentRef, status: number, substate?: string | null): void =>
      outbox.append(deploymentEvents.deviceStatusChanged(row, status, substate)),
    rolloutLogged: (entry: RolloutLogEntry): void => outbox.append(deploymentEvents.rolloutLogged(entry)),
  }
}
