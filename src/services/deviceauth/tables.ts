import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { DeviceStatus } from './model.ts'

/**
 * Devices, one per identity: `identityHash` is the SHA-256 of the identity data as Mender normalises
 * it, so the same device maps to the same row here as on a Mender server. `status` is derived from
 * the device's auth sets and rewritten whenever they change.
 */
export const devices = sqliteTable(
  'deviceauth_devices',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    /** The normalised identity JSON (sorted keys, Go escaping): the exact bytes that were hashed. */
    identity: text().notNull(),
    identityHash: text().notNull(),
    status: text().$type<DeviceStatus>().notNull(),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
    updatedTs: integer({ mode: 'timestamp_ms' }).notNull(),
    checkInTs: integer({ mode: 'timestamp_ms' }),
  },
  (t) => [
    uniqueIndex('deviceauth_devices_identity').on(t.tenantId, t.identityHash),
    // Lists are sorted by status, then id (as in Mender); counts and the device limit filter on status.
    index('deviceauth_devices_status').on(t.tenantId, t.status, t.id),
  ],
)

/** An identity + public key pair a device presented (or an operator preauthorized), with its own status. */
export const authSets = sqliteTable(
  'deviceauth_auth_sets',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    deviceId: text()
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** Canonical PKIX PEM, so the same key always compares equal whatever its original formatting. */
    pubkey: text().notNull(),
    status: text().$type<DeviceStatus>().notNull(),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  // Leading with device_id also serves the foreign key's cascade from devices.
  (t) => [uniqueIndex('deviceauth_auth_sets_key').on(t.deviceId, t.pubkey)],
)

/**
 * The live device tokens, one per accepted auth set (`id` is the token's `jti`, which is the auth set
 * id). A row exists only while its auth set is accepted and its device exists: every path that ends
 * that deletes the row, so the per-request liveness check is a single primary-key lookup.
 */
export const deviceTokens = sqliteTable('deviceauth_tokens', {
  id: text()
    .primaryKey()
    .references(() => authSets.id, { onDelete: 'cascade' }),
  tenantId: text().notNull().default(''),
  deviceId: text().notNull(),
  expiresTs: integer({ mode: 'timestamp_ms' }).notNull(),
  createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
})
