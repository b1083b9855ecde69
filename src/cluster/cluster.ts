import { createMemoryThrottleStore, type ThrottleStore } from '../services/useradm/throttle.ts'
import { type Leases, localLeases } from './leases.ts'

/**
 * What instances of one installation share beyond the stores: who runs each background job, and
 * the login throttle's counts. On SQLite there is one process, which keeps both itself.
 */
export type Cluster = {
  leases: Leases
  loginThrottle: ThrottleStore
}

/** One process: every job runs here, failed logins are counted in memory. */
export const localCluster = (): Cluster => ({
  leases: localLeases(),
  loginThrottle: createMemoryThrottleStore(),
})
