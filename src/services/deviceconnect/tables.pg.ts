import { index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core'
import { bytes, int, ms } from '../../../db/pg-columns.ts'
import type { ConnectionStatus, SessionEnd, SessionKind } from './model.ts'

/** deviceconnect's tables on PostgreSQL (see tables.ts). */
export const connectDevices = pgTable(
  'deviceconnect_devices',
  {
    tenantId: text().notNull().default(''),
    deviceId: text().notNull(),
    status: text().$type<ConnectionStatus>().notNull(),
    version: int().notNull().default(0),
    createdTs: ms().notNull(),
    updatedTs: ms().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.deviceId] })],
)

export const connectSessions = pgTable(
  'deviceconnect_sessions',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    userId: text().notNull(),
    deviceId: text().notNull(),
    kind: text().$type<SessionKind>().notNull(),
    startTs: ms().notNull(),
    endTs: ms(),
    end: text().$type<SessionEnd>().notNull(),
    bytes: int().notNull().default(0),
    recordedBytes: int().notNull().default(0),
    path: text(),
  },
  (t) => [
    index('deviceconnect_sessions_tenant_start').on(t.tenantId, t.startTs),
    index('deviceconnect_sessions_device').on(t.tenantId, t.deviceId, t.startTs),
    index('deviceconnect_sessions_user').on(t.tenantId, t.userId, t.startTs),
  ],
)

export const connectRecordings = pgTable(
  'deviceconnect_recordings',
  {
    sessionId: text().notNull(),
    seq: int().notNull(),
    tenantId: text().notNull().default(''),
    createdTs: ms().notNull(),
    data: bytes().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.seq] }),
    index('deviceconnect_recordings_created').on(t.createdTs),
  ],
)

/**
 * The sessions open now on any instance, one row each, counted against the limits per user and per
 * device. PostgreSQL only: one SQLite process counts its sessions in memory. A row counts until
 * `expiresTs`, which its instance (`instanceId`, the relay's id) pushes forward while the session
 * runs, so the sessions of an instance that died stop counting by themselves.
 */
export const connectOpenSessions = pgTable(
  'deviceconnect_open_sessions',
  {
    id: text().primaryKey(),
    tenantId: text().notNull(),
    userId: text().notNull(),
    deviceId: text().notNull(),
    instanceId: text().notNull(),
    expiresTs: ms().notNull(),
  },
  (t) => [
    index('deviceconnect_open_sessions_user').on(t.tenantId, t.userId),
    index('deviceconnect_open_sessions_device').on(t.tenantId, t.deviceId),
    index('deviceconnect_open_sessions_expires').on(t.expiresTs),
  ],
)
