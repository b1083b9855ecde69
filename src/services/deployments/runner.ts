import type { Clock } from '../../clock.ts'
import { type Leases, localLeases } from '../../cluster/leases.ts'
import { NotFoundError } from '../../gateway/errors.ts'
import type { DeploymentRow } from './store.deployments.ts'
import type { DeploymentsStore } from './store.ts'

/** At most this much background work per tick: a tick never holds the database for long. */
export const SLICE = 200
/** How often the timer looks for due work. */
const TICK_MS = 1000

/** Which of these devices (accepted ones only) a saved filter matches now. */
export type FilterMatcher = (
  tenantId: string,
  filterId: string,
  among: readonly string[],
) => Promise<string[]>

/**
 * The rollout's background work, in bounded slices: phases whose start time has come open (gates
 * permitting), devices in flight past their deployment's timeout count as failed for the gates,
 * and devices that changed (accepted, inventory written, static group or tags changed) join the
 * active dynamic deployments whose filter they now match. Each item is its own short store call (one transaction); nothing here
 * runs per poll. The timed work is the database's, so one instance does it (the lease
 * `deployments.schedule`); the changed devices are the ones this instance heard of, so each
 * instance joins its own.
 */
export function createRolloutRunner(
  store: DeploymentsStore,
  clock: Clock,
  match: FilterMatcher,
  leases: Leases = localLeases(),
) {
  // Long as a whole: one closure over the state its methods share; each method is short.
  /** Devices that changed since the last look, per tenant. */
  const changed = new Map<string, Set<string>>()

  async function timeDue(): Promise<number> {
    const now = clock.now()
    let done = 0
    for (const phase of await store.duePhases(now, SLICE)) {
      if (await store.openDuePhase(phase)) done++
    }
    for (const device of await store.overdueInFlight(now, SLICE)) {
      await store.timeOut(device)
      done++
    }
    return done
  }

  /** The changed devices of one dynamic deployment's tenant that match its filter join it (in its last phase). */
  async function join(deployment: DeploymentRow, deviceIds: string[]): Promise<number> {
    let matched: string[]
    try {
      matched = await match(deployment.tenantId, deployment.filter?.id ?? '', deviceIds)
    } catch (err) {
      if (err instanceof NotFoundError) return 0 // its filter was deleted: nobody joins any more
      throw err
    }
    if (matched.length === 0) return 0
    return store.joinDynamic(deployment.tenantId, deployment.id, matched)
  }

  async function dynamicDue(): Promise<number> {
    let done = 0
    for (const [tenantId, devices] of changed) {
      const active = await store.activeDynamic(tenantId)
      if (active.length === 0) {
        // Nothing to join: a bulk change (a group of 10 000) is dropped at once, not sliced. A
        // dynamic deployment made later matches its devices at its creation.
        changed.delete(tenantId)
        continue
      }
      const ids: string[] = []
      for (const id of devices) {
        if (ids.length === SLICE) break
        ids.push(id)
      }
      for (const id of ids) devices.delete(id)
      if (devices.size === 0) changed.delete(tenantId)
      for (const deployment of active) done += await join(deployment, ids)
    }
    return done
  }

  // One run at a time: a call made during a run waits for it, then runs (so when it resolves,
  // everything noted before the call has been handled).
  let last: Promise<number> = Promise.resolve(0)
  let busy = false
  const inTurn = (work: () => Promise<number>) => {
    const run = async () => {
      busy = true
      try {
        return await work()
      } finally {
        busy = false
      }
    }
    last = last.then(run, run)
    return last
  }
  const runDue = () => inTurn(async () => (await timeDue()) + (await dynamicDue()))
  const every = (work: () => Promise<number>) => {
    const timer = setInterval(() => {
      // A failed slice is tried again on the next tick.
      if (!busy) inTurn(work).catch(() => undefined)
    }, TICK_MS)
    // The timer alone must not keep the process (or a test) running.
    timer.unref?.()
    return () => clearInterval(timer)
  }
  let stopJoining: (() => void) | undefined = every(dynamicDue)
  const endTimed = leases.run('deployments.schedule', () => every(timeDue))

  return {
    runDue,
    deviceChanged(tenantId: string, deviceId: string): void {
      let devices = changed.get(tenantId)
      if (!devices) {
        devices = new Set()
        changed.set(tenantId, devices)
      }
      devices.add(deviceId)
    },
    stop(): void {
      stopJoining?.()
      stopJoining = undefined
      // Local leases end at once; a PostgreSQL lease is given up in the background.
      void endTimed()
    },
  }
}
