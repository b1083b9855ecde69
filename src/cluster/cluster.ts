import { createMemoryThrottleStore, type ThrottleStore } from '../services/useradm/throttle.ts'
import { type Leases, localLeases } from './leases.ts'
import type { DeviceHolders, Relay } from './relay.ts'

/**
 * What instances of one installation share beyond the stores: who runs each background job, the
 * login throttle's counts, and the way to a device's websocket held by another instance. On
 * SQLite there is one process, which keeps all of it itself.
 */
export type Cluster = {
  leases: Leases
  loginThrottle: ThrottleStore
  /** Absent for one process: every device's websocket is held here. */
  relay?: { relay: Relay; holders: DeviceHolders }
  /** Ends every job, gives the leases up and stops relaying; call before closing the database. */
  close(): Promise<void>
}

/** One process: every job runs here, failed logins are counted in memory. */
export function localCluster(): Cluster {
  const leases = localLeases()
  return { leases, loginThrottle: createMemoryThrottleStore(), close: () => leases.close() }
}
