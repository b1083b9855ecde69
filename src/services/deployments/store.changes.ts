import type { Clock } from '../../clock.ts'
import type { Ids } from '../../ids.ts'
import { createGates } from './gates.ts'
import { type PickUp, pickUpRule, type Selection, type Stale } from './pickup.ts'
import type { DeviceDeploymentStatus } from './status.ts'
import { statusName } from './status.ts'
import type { DeploymentRow, DeploymentRows } from './store.deployments.ts'
import type { DeviceDeploymentRows } from './store.devices.ts'
import type { OverdueDevice, PhaseRow, RolloutRows } from './store.rollout.ts'
import type { LogMessage } from './tables.ts'
import { createTransitions } from './transitions.ts'

/** What a status report did: nothing to report on, refused (aborted, decommissioned), or done. */
export type ReportOutcome = 'not-found' | 'aborted' | 'decommissioned' | 'done'

/** A deployment's status change by the operator. */
export type DeploymentChange =
  | { status: 'aborted' }
  | { status: 'paused'; reason: string }
  | { status: 'resumed'; override: boolean }

/** What a status change did, or why it was refused. */
export type ChangeOutcome =
  | 'done'
  | 'not-found'
  | 'finished'
  | 'already-paused'
  | 'not-paused'
  | { tripped: string | null }

/** A new deployment's phases: each device's phase (absent: all in 0), the phase rows, whether the first opens now. */
export type PhasedPlan = { devicePhases?: readonly number[]; phases: PhaseRow[]; openFirst: boolean }

/**
 * The deployments store's atomic changes on SQLite, each run by the store inside one synchronous
 * transaction: the rows, and the rules that must hold with them (counts, statuses, gates).
 */
export function createDeploymentChanges(
  rows: DeploymentRows,
  devices: DeviceDeploymentRows,
  rollout: RolloutRows,
  clock: Clock,
  ids: Ids,
) {
  const gates = createGates(rows, rollout, devices, clock)
  const transitions = createTransitions(rows, devices, rollout, clock, ids, gates)

  /** Creation times are distinct per tenant: selection compares them ("newer than the device's last"). */
  const distinctCreated = (row: DeploymentRow): DeploymentRow => {
    const latest = rows.latestCreated(row.tenantId)?.getTime() ?? 0
    return { ...row, created: new Date(Math.max(row.created.getTime(), latest + 1)) }
  }

  return {
    pickUp: (pick: PickUp): Selection | Stale => pickUpRule(rows, devices, transitions, pick),

    reportStatus(
      tenantId: string,
      deviceId: string,
      deploymentId: string,
      status: DeviceDeploymentStatus,
      substate?: string,
    ): ReportOutcome {
      const row = devices.findForDevice(tenantId, deploymentId, deviceId)
      if (!row) return 'not-found'
      const current = statusName(row.status)
      if (current === 'aborted' || current === 'decommissioned') return current
      if (current === status) return 'done'
      if (
        status === 'failure' &&
        row.attempts <= (rows.findDeployment(tenantId, deploymentId)?.retries ?? 0)
      ) {
        // Retries left: offered again at the device's next poll; only its last attempt counts.
        transitions.retry(row)
      } else {
        transitions.setStatus(row, status, substate)
      }
      return 'done'
    },

    saveLog(tenantId: string, deploymentId: string, deviceId: string, messages: LogMessage[]): boolean {
      const row = devices.findForDevice(tenantId, deploymentId, deviceId)
      if (!row) return false
      rows.saveLog(tenantId, deploymentId, deviceId, messages)
      devices.setLogAvailable(row.seq)
      return true
    },

    createDeployment(
      row: DeploymentRow,
      deviceIds: readonly string[],
      plan: PhasedPlan,
    ): DeploymentRow | undefined {
      const made = distinctCreated(row)
      if (!rows.insertDeployment(made, deviceIds, plan.devicePhases)) return undefined
      rollout.insertPhases(plan.phases)
      const first = rollout.findPhase(made.tenantId, made.id, 0)
      if (first && plan.openFirst) gates.open({ ...made, status: 'pending' }, first)
      return made
    },

    createConfigurationDeployment(row: DeploymentRow, deviceId: string): boolean {
      if (rows.findDeployment(row.tenantId, row.id)) return false
      return rows.insertDeployment(distinctCreated(row), [deviceId])
    },

    changeStatus(tenantId: string, id: string, change: DeploymentChange): ChangeOutcome {
      const row = rows.findDeployment(tenantId, id)
      if (!row) return 'not-found'
      if (row.finished) return 'finished'
      if (change.status === 'aborted') {
        gates.abort(tenantId, id)
        return 'done'
      }
      if (change.status === 'paused') {
        if (row.pausedAt) return 'already-paused'
        gates.pause(tenantId, id, change.reason)
        return 'done'
      }
      if (!row.pausedAt) return 'not-paused'
      if (row.gateTripped && !change.override) return { tripped: row.pauseReason }
      gates.resume(tenantId, id, row.gateTripped)
      return 'done'
    },

    /**
     * Ends a device's part in every active deployment listing it: its unfinished device
     * deployments, and those it has not started, get `status`. Repeating it changes nothing.
     */
    endForDevice(tenantId: string, deviceId: string, status: DeviceDeploymentStatus): void {
      // Read before the active ones end: ending them must not move the device's "newest finished".
      const unstarted = devices.unstartedDeployments(tenantId, deviceId)
      const byId = new Map(
        rows
          .findDeploymentsByIds(
            tenantId,
            unstarted.map((entry) => entry.id),
          )
          .map((d) => [d.id, d]),
      )
      for (const row of devices.listActiveForDevice(tenantId, deviceId)) transitions.setStatus(row, status)
      for (const { id, phase } of unstarted) {
        const deployment = byId.get(id)
        if (deployment) transitions.create(deployment, deviceId, status, phase)
      }
    },

    openDuePhase: (phase: PhaseRow): boolean => gates.tryOpen(phase),

    timeOut(device: OverdueDevice): void {
      rollout.markTimedOut(device.seq)
      const deployment = rows.findDeployment(device.tenantId, device.deploymentId)
      gates.onResult(device, true, deployment?.policy ?? null)
    },

    joinDynamic(tenantId: string, deploymentId: string, deviceIds: readonly string[]): number {
      const current = rows.findDeployment(tenantId, deploymentId)
      if (!current || current.finished) return 0
      const phase = Math.max(current.phaseCount - 1, 0)
      const added = rows.addDevices(current, deviceIds, phase)
      if (current.phaseCount > 0) rollout.growPhase(current.tenantId, current.id, phase, added.length)
      return added.length
    },
  }
}

export type DeploymentChanges = ReturnType<typeof createDeploymentChanges>
