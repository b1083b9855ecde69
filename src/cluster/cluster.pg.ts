import type { PgDatabase } from '../../db/pg.ts'
import type { Logger } from '../log.ts'
import { createPgThrottleStore } from '../services/useradm/throttle.pg.ts'
import type { Cluster } from './cluster.ts'
import { createPgLeases } from './leases.pg.ts'
import { createPgDeviceHolders, createPgRelay } from './relay.pg.ts'

/**
 * Several instances on one PostgreSQL database: leases are advisory locks on a connection of
 * their own (opened on `url`), failed logins a shared table, and deviceconnect's messages for a
 * device held by another instance go through LISTEN/NOTIFY.
 */
export async function pgCluster(db: PgDatabase, url: string, log: Logger): Promise<Cluster> {
  const leases = createPgLeases(url, { log })
  const relay = await createPgRelay(db, log)
  return {
    leases,
    loginThrottle: createPgThrottleStore(db),
    relay: { relay, holders: createPgDeviceHolders(db) },
    async close() {
      await leases.close()
      await relay.close()
    },
  }
}
