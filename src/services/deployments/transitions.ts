import type { Clock } from '../../clock.ts'
import type { Ids } from '../../ids.ts'
import type { Gates } from './gates.ts'
import {
  type DeviceDeploymentStatus,
  deploymentStatus,
  isActiveStatus,
  statusCode,
  statusName,
} from './status.ts'
import { type Steps, step } from './steps.ts'
import type { DeploymentRow, RuleDeploymentRows } from './store.deployments.ts'
import type { DeviceDeploymentRow, NewDeviceDeployment, RuleDeviceDeploymentRows } from './store.devices.ts'
import type { RuleRolloutRows } from './store.rollout.ts'
import type { StatsAfter } from './store.stats.ts'

/**
 * Every change of a device's status goes through here, inside the store's transaction: the device
 * deployment, its deployment's counts (moved with `+ 1` / `- 1`) and the deployment's status, which
 * becomes finished when the devices in end states reach its device count. The caller holds the
 * deployment (`lockDeployment`) before a device deployment of it changes.
 */
export function createTransitions(
  rows: RuleDeploymentRows,
  devices: RuleDeviceDeploymentRows,
  rollout: Pick<RuleRolloutRows, 'addPhaseDevice'>,
  clock: Clock,
  ids: Ids,
  gates: Gates,
) {
  function* count(
    tenantId: string,
    deploymentId: string,
    from: DeviceDeploymentStatus | null,
    to: DeviceDeploymentStatus,
    now: Date,
  ): Steps<StatsAfter | undefined> {
    const after = yield* step(rows.moveStat(tenantId, deploymentId, from, to))
    if (!after) return undefined
    const status = deploymentStatus(after.stats, after.maxDevices, after.finished !== null, after.scheduled)
    if (status !== after.status) {
      const finished = status === 'finished' ? (after.finished ?? now) : null
      yield* step(rows.setStatus(tenantId, deploymentId, status, finished))
    }
    return after
  }

  return {
    /**
     * Moves a device deployment to `status` (a no-op for its current status). A success or failure
     * in a phased deployment also moves its phase's gate counters (once per device: a device
     * already counted as timed out is not counted again).
     */
    *setStatus(row: DeviceDeploymentRow, status: DeviceDeploymentStatus, substate?: string): Steps<void> {
      const now = clock.now()
      const from = statusName(row.status)
      yield* step(devices.updateStatus(row.seq, statusCode(status), isActiveStatus(status), now, substate))
      if (from === status) return
      const after = yield* count(row.tenantId, row.deploymentId, from, status, now)
      if (after?.phased && !row.timedOut && (status === 'success' || status === 'failure')) {
        yield* gates.onResult(row, status === 'failure', after.policy)
      }
    },

    /** A failed attempt with retries left: the device deployment is pending again, for the next poll. */
    *retry(row: DeviceDeploymentRow): Steps<void> {
      const from = statusName(row.status)
      yield* step(devices.retry(row.seq))
      if (from !== 'pending') yield* count(row.tenantId, row.deploymentId, from, 'pending', clock.now())
    },

    /**
     * The device's device deployment in `deployment`, created in `status`. The first one a device
     * gets counts towards `device_count`; its pending count was there since the deployment was
     * made. One made again after the device's history was deleted is counted anew. A device's
     * pick-up stores its request and chosen artifact with the row.
     */
    *create(
      deployment: DeploymentRow,
      deviceId: string,
      status: DeviceDeploymentStatus,
      phase: number,
      picked?: { request: string; artifactId: string | null },
    ): Steps<DeviceDeploymentRow> {
      const now = clock.now()
      const { tenantId } = deployment
      const again = yield* step(devices.hadForDevice(tenantId, deployment.id, deviceId))
      const active = isActiveStatus(status)
      const row: NewDeviceDeployment = {
        id: ids.uuid(),
        tenantId,
        deploymentId: deployment.id,
        deviceId,
        status: statusCode(status),
        active,
        created: deployment.created,
        started: status === 'pending' ? null : now,
        finished: active ? null : now,
        deleted: null,
        substate: null,
        log: false,
        artifactId: picked?.artifactId ?? null,
        request: picked?.request ?? null,
        phase,
        attempts: 1,
        timedOut: false,
      }
      const seq = yield* step(devices.insert(row))
      if (!again) yield* step(rows.addDeviceCount(tenantId, deployment.id))
      if (!again && deployment.phaseCount > 0)
        yield* step(rollout.addPhaseDevice(tenantId, deployment.id, phase))
      if (again) yield* count(tenantId, deployment.id, null, status, now)
      else if (status !== 'pending') yield* count(tenantId, deployment.id, 'pending', status, now)
      return { ...row, seq }
    },
  }
}

export type Transitions = ReturnType<typeof createTransitions>
