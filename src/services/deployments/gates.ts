import type { Clock } from '../../clock.ts'
import { failureGateReason, type PhaseCounters, type RolloutPolicy, successGatePasses } from './policy.ts'
import { emptyStats, statusName } from './status.ts'
import { type Steps, step } from './steps.ts'
import type { DeploymentRow, RuleDeploymentRows } from './store.deployments.ts'
import type { RuleDeviceDeploymentRows } from './store.devices.ts'
import type { PhaseRow, RuleRolloutRows } from './store.rollout.ts'

type PhaseRef = { tenantId: string; deploymentId: string; phase: number }

/**
 * The rollout's decisions, each made inside the transaction of the change that prompts it: a
 * result moves its phase's counters and the failure gate reads them (a constant cost per status
 * write); a phase opens when its time has come and the phase before it passed the success gate.
 * Every decision goes into the deployment's rollout log and onto the event stream.
 */
export function createGates(
  rows: RuleDeploymentRows,
  rollout: RuleRolloutRows,
  devices: RuleDeviceDeploymentRows,
  clock: Clock,
) {
  const log = (ref: Omit<PhaseRef, 'phase'>, kind: string, phase: number | null, reason: string) =>
    step(
      rollout.log({
        tenantId: ref.tenantId,
        deploymentId: ref.deploymentId,
        time: clock.now(),
        kind,
        phase,
        reason,
      }),
    )

  /** Aborts the deployment: its unfinished devices are aborted, its counts recounted, and it is finished. */
  function* abort(tenantId: string, id: string): Steps<void> {
    yield* step(devices.abortActiveOfDeployment(tenantId, id))
    // Recounted from the device deployments: devices that never asked drop out of the counts.
    const stats = emptyStats()
    for (const { status: code, n } of yield* step(devices.countByStatus(tenantId, id)))
      stats[statusName(code)] = n
    yield* step(rows.setStats(tenantId, id, stats))
    yield* step(rows.setStatus(tenantId, id, 'finished', clock.now()))
  }

  function* trip(ref: PhaseRef, policy: RolloutPolicy | null, reason: string): Steps<void> {
    const deployment = yield* step(rows.findDeployment(ref.tenantId, ref.deploymentId))
    if (!deployment || deployment.finished || deployment.gateTripped) return
    if (policy?.failure_gate?.action === 'abort') {
      yield* log(ref, 'aborted', ref.phase, reason)
      yield* abort(ref.tenantId, ref.deploymentId)
      return
    }
    yield* step(rollout.pause(ref.tenantId, ref.deploymentId, clock.now(), reason, true))
    yield* log(ref, 'paused', ref.phase, reason)
  }

  /** Opens the phase (the first one also ends `scheduled`). */
  function* open(
    deployment: Pick<DeploymentRow, 'tenantId' | 'id' | 'status'>,
    phase: PhaseRow,
  ): Steps<void> {
    const now = clock.now()
    yield* step(rollout.openPhase(deployment.tenantId, deployment.id, phase.idx, now))
    const ref = { tenantId: deployment.tenantId, deploymentId: deployment.id }
    yield* log(ref, 'phase-opened', phase.idx, `phase ${phase.idx + 1} opened for ${phase.size} devices`)
    if (deployment.status === 'scheduled')
      yield* step(rows.setStatus(deployment.tenantId, deployment.id, 'pending', null))
  }

  /**
   * A phase whose time has come opens if it is the next one and the one before passed the success
   * gate; otherwise it is held (recorded once) until a success in the phase before lets it through.
   * The deployment is held and the phase read again, so two instances cannot both open or hold it.
   */
  function* tryOpen(due: PhaseRow): Steps<boolean> {
    const deployment = yield* step(rows.lockDeployment(due.tenantId, due.deploymentId))
    if (!deployment || deployment.finished || deployment.pausedAt || deployment.openPhases !== due.idx)
      return false
    const phase = yield* step(rollout.findPhase(due.tenantId, due.deploymentId, due.idx))
    if (!phase || phase.opened !== null) return false
    if (phase.idx > 0) {
      const previous = yield* step(rollout.findPhase(phase.tenantId, phase.deploymentId, phase.idx - 1))
      if (previous && !successGatePasses(deployment.policy, previous)) {
        if (!phase.held) {
          yield* step(rollout.holdPhase(phase.tenantId, phase.deploymentId, phase.idx))
          const percent = deployment.policy?.success_gate?.percent
          yield* log(
            { tenantId: phase.tenantId, deploymentId: phase.deploymentId },
            'phase-held',
            phase.idx,
            `success gate: phase ${phase.idx} has ${previous.succeeded} of ${previous.size} devices succeeded, ${percent}% needed`,
          )
        }
        return false
      }
    }
    yield* open(deployment, phase)
    return true
  }

  return {
    abort,
    open,
    tryOpen,

    /**
     * A device of a phased deployment ended an attempt (success or failure; a timeout counts as
     * failure): its phase's counters move and the gates are checked against them.
     */
    *onResult(ref: PhaseRef, failed: boolean, policy: RolloutPolicy | null): Steps<void> {
      const counters: PhaseCounters | undefined = yield* step(
        rollout.countResult(ref.tenantId, ref.deploymentId, ref.phase, failed),
      )
      if (!counters) return
      // A success can only trip the gate by bringing the phase to its minimum sample; after an
      // override, only a further failure pauses again.
      const sampleReached = counters.finished === (policy?.failure_gate?.min_finished ?? 1)
      const reason = failed || sampleReached ? failureGateReason(policy, counters) : undefined
      if (reason) yield* trip(ref, policy, reason)
      else if (!failed && policy?.success_gate && successGatePasses(policy, counters)) {
        // The next phase may have been held only by this gate: open it now if its time has come.
        const next = yield* step(rollout.findPhase(ref.tenantId, ref.deploymentId, ref.phase + 1))
        if (next && next.opened === null && next.held && next.startTs <= clock.now()) yield* tryOpen(next)
      }
    },

    /** Pauses by hand. */
    *pause(tenantId: string, id: string, reason: string): Steps<void> {
      yield* step(rollout.pause(tenantId, id, clock.now(), reason, false))
      yield* log({ tenantId, deploymentId: id }, 'paused', null, reason)
    },

    /** Resumes; after a failure gate only with `override` (recorded). */
    *resume(tenantId: string, id: string, override: boolean): Steps<void> {
      yield* step(rollout.resume(tenantId, id))
      yield* log(
        { tenantId, deploymentId: id },
        'resumed',
        null,
        override ? 'resumed by hand, overriding the failure gate' : 'resumed by hand',
      )
    },
  }
}

export type Gates = ReturnType<typeof createGates>
