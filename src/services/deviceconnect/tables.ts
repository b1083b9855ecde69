import { blob, index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import type { ConnectionStatus, SessionEnd, SessionKind } from './model.ts'

/** Devices deviceconnect knows, with their connection state. */
export const connectDevices = sqliteTable(
  'deviceconnect_devices',
  {
    tenantId: text().notNull().default(''),
    deviceId: text().notNull(),
    status: text().$type<ConnectionStatus>().notNull(),
    version: integer().notNull().default(0),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
    updatedTs: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.deviceId] })],
)

/** Every operator session, open or ended: the audit list. */
export const connectSessions = sqliteTable(
  'deviceconnect_sessions',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    userId: text().notNull(),
    deviceId: text().notNull(),
    kind: text().$type<SessionKind>().notNull(),
    startTs: integer({ mode: 'timestamp_ms' }).notNull(),
    endTs: integer({ mode: 'timestamp_ms' }),
    end: text().$type<SessionEnd>().notNull(),
    bytes: integer().notNull().default(0),
    recordedBytes: integer().notNull().default(0),
    path: text(),
  },
  (t) => [
    index('deviceconnect_sessions_tenant_start').on(t.tenantId, t.startTs),
    index('deviceconnect_sessions_device').on(t.tenantId, t.deviceId, t.startTs),
    index('deviceconnect_sessions_user').on(t.tenantId, t.userId, t.startTs),
  ],
)

/** Terminal output of a session, in the order it was written, for playback. */
export const connectRecordings = sqliteTable(
  'deviceconnect_recordings',
  {
    sessionId: text().notNull(),
    seq: integer().notNull(),
    tenantId: text().notNull().default(''),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
    data: blob({ mode: 'buffer' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.sessionId, t.seq] }),
    index('deviceconnect_recordings_created').on(t.createdTs),
  ],
)
