import { index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core'
import { int, ms } from '../../db/pg-columns.ts'

/**
 * Tables that only several instances need, so PostgreSQL alone has them: on SQLite one process
 * keeps the same facts in memory.
 */

/** Failed logins per throttle key (email and address, or address), shared by every instance. */
export const loginThrottle = pgTable(
  'cluster_login_throttle',
  {
    key: text().primaryKey(),
    failures: integer().notNull(),
    /** Epoch milliseconds before which the key's next attempt is refused. */
    lockedUntil: int().notNull(),
    lastFailure: ms().notNull(),
  },
  (t) => [index('cluster_login_throttle_last_failure').on(t.lastFailure)],
)

/** Which instance holds each connected device's websocket (deviceconnect). */
export const deviceHolders = pgTable(
  'cluster_device_holders',
  {
    tenantId: text().notNull(),
    deviceId: text().notNull(),
    instanceId: text().notNull(),
    since: ms().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.deviceId] })],
)
