import type { PgDatabase } from '../../db/pg.ts'
import type { Logger } from '../log.ts'
import { createPgThrottleStore } from '../services/useradm/throttle.pg.ts'
import type { Cluster } from './cluster.ts'
import { createPgLeases } from './leases.pg.ts'

/**
 * Several instances on one PostgreSQL database: leases are advisory locks on a connection of
 * their own (opened on `url`), failed logins a shared table.
 */
export const pgCluster = (db: PgDatabase, url: string, log: Logger): Cluster => ({
  leases: createPgLeases(url, { log }),
  loginThrottle: createPgThrottleStore(db),
})
