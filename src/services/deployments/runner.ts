import type { Clock } from '../../clock.ts'
import type { Gates } from './gates.ts'
import type { RolloutStore } from './store.rollout.ts'
import type { DeploymentsStore } from './store.ts'

/** At most this much background work per tick: a tick never holds the database for long. */
export const SLICE = 200
/** How often the timer looks for due work. */
const TICK_MS = 1000

/**
 * The rollout's time-driven work, in bounded slices: phases whose start time has come open (gates
 * permitting), devices in flight past their deployment's timeout count as failed for the gates.
 * Each item is its own short transaction.
 */
export function createRolloutRunner(
  store: DeploymentsStore,
  rollout: RolloutStore,
  gates: Gates,
  clock: Clock,
) {
  function runDue(): number {
    const now = clock.now()
    let done = 0
    for (const phase of rollout.duePhases(now, SLICE)) {
      if (store.transaction(() => gates.tryOpen(phase))) done++
    }
    for (const device of rollout.overdueInFlight(now, SLICE)) {
      store.transaction(() => {
        rollout.markTimedOut(device.seq)
        const deployment = store.findDeployment(device.tenantId, device.deploymentId)
        gates.onResult(device, true, deployment?.policy ?? null)
      })
      done++
    }
    return done
  }

  let timer: ReturnType<typeof setInterval> | undefined = setInterval(() => {
    try {
      runDue()
    } catch {
      // A failed slice is tried again on the next tick.
    }
  }, TICK_MS)
  // The timer alone must not keep the process (or a test) running.
  timer.unref?.()

  return {
    runDue,
    stop(): void {
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}
