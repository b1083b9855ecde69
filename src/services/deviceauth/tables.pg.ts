import { index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { ms } from '../../../db/pg-columns.ts'
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
