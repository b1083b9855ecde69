import { index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { int, ms, rowid } from '../../../db/pg-columns.ts'
import type { DeviceStatus } from './model.ts'

/** deviceauth's tables on PostgreSQL (see tables.ts). */
export const devices = pgTable(
  'deviceauth_devices',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    identity: text().notNull(),
    identityHash: text().notNull(),
    status: text().$type<DeviceStatus>().notNull(),
    createdTs: ms().notNull(),
    updatedTs: ms().notNull(),
    checkInTs: ms(),
  },
  (t) => [
    uniqueIndex('deviceauth_devices_identity').on(t.tenantId, t.identityHash),
    index('deviceauth_devices_status').on(t.tenantId, t.status, t.id),
  ],
)

export const authSets = pgTable(
  'deviceauth_auth_sets',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    deviceId: text()
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    pubkey: text().notNull(),
    status: text().$type<DeviceStatus>().notNull(),
    createdTs: ms().notNull(),
    rowid: rowid(),
  },
  (t) => [uniqueIndex('deviceauth_auth_sets_key').on(t.deviceId, t.pubkey)],
)

export const deviceTokens = pgTable('deviceauth_tokens', {
  id: text()
    .primaryKey()
    .references(() => authSets.id, { onDelete: 'cascade' }),
  tenantId: text().notNull().default(''),
  deviceId: text().notNull(),
  expiresTs: ms().notNull(),
  createdTs: ms().notNull(),
})

/**
 * PostgreSQL only: how many writes took device tokens away, shared by every instance on the
 * database. One row (`id` 1), bumped in the same transaction as the revocation, so another
 * instance reads the new count exactly when the revocation is visible (see store.revocations.pg.ts).
 * SQLite serves one process, which keeps the count in memory.
 */
export const revocations = pgTable('deviceauth_revocations', {
  id: integer().primaryKey(),
  value: int().notNull(),
})
