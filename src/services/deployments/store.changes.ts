import type { Clock } from '../../clock.ts'
import type { Ids } from '../../ids.ts'
import { createGates } from './gates.ts'
import { type NextCandidate, type PickUp, pickUpRule, type Selection, type Stale } from './pickup.ts'
import type { DeviceDeploymentStatus } from './status.ts'
import { statusName } from './status.ts'
import { type Awaitable, type Steps, step } from './steps.ts'
import type { DeploymentRow, RuleDeploymentRows } from './store.deployments.ts'
import type { DeviceDeploymentRow, RuleDeviceDeploymentRows, Unstarted } from './store.devices.ts'
import type { OverdueDevice, PhaseRow, RuleRolloutRows } from './store.rollout.ts'
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
 * The deployments store's atomic changes, written once for both engines (see steps.ts): each is
 * run by its engine's store inside one transaction. The rows, and the rules that must hold with
 * them (counts, statuses, gates). A change that moves a device deployment holds its deployment
 * first (and a device's change holds the device before that), so that on PostgreSQL two instances
 * serialize on the same rows in the same order instead of both deciding from what they read.
 */
export function createDeploymentChanges(
  rows: RuleDeploymentRows,
  devices: RuleDeviceDeploymentRows,
  rollout: RuleRolloutRows,
  findNext: (tenantId: string, deviceId: string) => Awaitable<NextCandidate | undefined>,
  clock: Clock,
  ids: Ids,
) {
  const gates = createGates(rows, rollout, devices, clock)
  const transitions = createTransitions(rows, devices, rollout, clock, ids, gates)

  /** Creation times are distinct per tenant: selection compares them ("newer than the device's last"). */
  function* distinctCreated(row: DeploymentRow): Steps<DeploymentRow> {
    const latest = (yield* step(rows.latestCreated(row.tenantId)))?.getTime() ?? 0
    return { ...row, created: new Date(Math.max(row.created.getTime(), latest + 1)) }
  }

  /** Holds these deployments in id order (every change holding several does so alike). */
  function* lockAll(tenantId: string, deploymentIds: Iterable<string>, held: Set<string>): Steps<void> {
    for (const id of [...new Set(deploymentIds)].sort()) {
      if (held.has(id)) continue
      yield* step(rows.lockDeployment(tenantId, id))
      held.add(id)
    }
  }

  /** The device's unstarted and unfinished device deployments, and the deployments they are in. */
  function* readDevice(
    tenantId: string,
    deviceId: string,
  ): Steps<{ unstarted: Unstarted[]; active: DeviceDeploymentRow[]; touched: string[] }> {
    const unstarted = yield* step(devices.unstartedDeployments(tenantId, deviceId))
    const active = yield* step(devices.listActiveForDevice(tenantId, deviceId))
    const touched = [...unstarted.map((entry) => entry.id), ...active.map((row) => row.deploymentId)]
    return { unstarted, active, touched }
  }

  return {
    pickUp: (pick: PickUp): Steps<Selection | Stale> =>
      pickUpRule(rows, devices, transitions, findNext, pick),

    *reportStatus(
      tenantId: string,
      deviceId: string,
      deploymentId: string,
      status: DeviceDeploymentStatus,
      substate?: string,
    ): Steps<ReportOutcome> {
      // Holding the deployment is enough: a report only moves the device's row in it.
      const deployment = yield* step(rows.lockDeployment(tenantId, deploymentId))
      if (!deployment) return 'not-found'
      const row = yield* step(devices.findForDevice(tenantId, deploymentId, deviceId))
      if (!row) return 'not-found'
      const current = statusName(row.status)
      if (current === 'aborted' || current === 'decommissioned') return current
      if (current === status) return 'done'
      if (status === 'failure' && row.attempts <= deployment.retries) {
        // Retries left: offered again at the device's next poll; only its last attempt counts.
        yield* transitions.retry(row)
      } else {
        yield* transitions.setStatus(row, status, substate)
      }
      return 'done'
    },

    *saveLog(
      tenantId: string,
      deploymentId: string,
      deviceId: string,
      messages: LogMessage[],
    ): Steps<boolean> {
      const row = yield* step(devices.findForDevice(tenantId, deploymentId, deviceId))
      if (!row) return false
      yield* step(rows.saveLog(tenantId, deploymentId, deviceId, messages))
      yield* step(devices.setLogAvailable(row.seq))
      return true
    },

    *createDeployment(
      row: DeploymentRow,
      deviceIds: readonly string[],
      plan: PhasedPlan,
    ): Steps<DeploymentRow | undefined> {
      const made = yield* distinctCreated(row)
      if (!(yield* step(rows.insertDeployment(made, deviceIds, plan.devicePhases)))) return undefined
      yield* step(rollout.insertPhases(plan.phases))
      const first = yield* step(rollout.findPhase(made.tenantId, made.id, 0))
      if (first && plan.openFirst) yield* gates.open({ ...made, status: 'pending' }, first)
      return made
    },

    *createConfigurationDeployment(row: DeploymentRow, deviceId: string): Steps<boolean> {
      if (yield* step(rows.findDeployment(row.tenantId, row.id))) return false
      return yield* step(rows.insertDeployment(yield* distinctCreated(row), [deviceId]))
    },

    *changeStatus(tenantId: string, id: string, change: DeploymentChange): Steps<ChangeOutcome> {
      const row = yield* step(rows.lockDeployment(tenantId, id))
      if (!row) return 'not-found'
      if (row.finished) return 'finished'
      if (change.status === 'aborted') {
        yield* gates.abort(tenantId, id)
        return 'done'
      }
      if (change.status === 'paused') {
        if (row.pausedAt) return 'already-paused'
        yield* gates.pause(tenantId, id, change.reason)
        return 'done'
      }
      if (!row.pausedAt) return 'not-paused'
      if (row.gateTripped && !change.override) return { tripped: row.pauseReason }
      yield* gates.resume(tenantId, id, row.gateTripped)
      return 'done'
    },

    /**
     * Ends a device's part in every active deployment listing it: its unfinished device
     * deployments, and those it has not started, get `status`. Repeating it changes nothing. The
     * deployments are held before their rows are read again, so an abort meanwhile is seen.
     */
    *endForDevice(tenantId: string, deviceId: string, status: DeviceDeploymentStatus): Steps<void> {
      yield* step(devices.lockDevice(tenantId, deviceId))
      const held = new Set<string>()
      // Read before the active ones end: ending them must not move the device's "newest finished".
      let { unstarted, active, touched } = yield* readDevice(tenantId, deviceId)
      while (touched.some((id) => !held.has(id))) {
        yield* lockAll(tenantId, touched, held)
        ;({ unstarted, active, touched } = yield* readDevice(tenantId, deviceId))
      }
      const found = held.size === 0 ? [] : yield* step(rows.findDeploymentsByIds(tenantId, [...held]))
      const byId = new Map(found.map((d) => [d.id, d]))
      for (const row of active) yield* transitions.setStatus(row, status)
      for (const { id, phase } of unstarted) {
        const deployment = byId.get(id)
        if (deployment) yield* transitions.create(deployment, deviceId, status, phase)
      }
    },

    openDuePhase: (phase: PhaseRow): Steps<boolean> => gates.tryOpen(phase),

    /** Counted once: a device deployment already marked, or no longer in flight, is left alone. */
    *timeOut(device: OverdueDevice): Steps<void> {
      const deployment = yield* step(rows.lockDeployment(device.tenantId, device.deploymentId))
      if (!(yield* step(rollout.markTimedOut(device.seq)))) return
      yield* gates.onResult(device, true, deployment?.policy ?? null)
    },

    *joinDynamic(tenantId: string, deploymentId: string, deviceIds: readonly string[]): Steps<number> {
      const current = yield* step(rows.lockDeployment(tenantId, deploymentId))
      if (!current || current.finished) return 0
      const phase = Math.max(current.phaseCount - 1, 0)
      const added = yield* step(rows.addDevices(current, deviceIds, phase))
      if (current.phaseCount > 0)
        yield* step(rollout.growPhase(current.tenantId, current.id, phase, added.length))
      return added.length
    },
  }
}

export type DeploymentChanges = ReturnType<typeof createDeploymentChanges>
