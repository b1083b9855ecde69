import { t } from 'elysia'

/** A device's deviceconnect state, as Mender reports it. */
export type ConnectionStatus = 'connected' | 'disconnected'

/** A device known to deviceconnect: provisioned when accepted, or seen connecting. */
export type DeviceConnection = {
  tenantId: string
  deviceId: string
  status: ConnectionStatus
  /** Bumped on every connect, so a late close of an older connection changes nothing. */
  version: number
  createdTs: Date
  updatedTs: Date
}

/** How a session ended; `open` while it runs. */
export type SessionEnd =
  | 'open'
  | 'user_closed'
  | 'device_closed'
  | 'device_disconnected'
  | 'idle_timeout'
  | 'byte_limit'
  | 'protocol_error'
  | 'server_stopped'
  | 'completed'
  | 'failed'

/** What a session was used for: a websocket session (terminal, port forward) or a file transfer. */
export type SessionKind = 'remote' | 'download' | 'upload'

/** One operator session to a device, kept for the audit list and for playback. */
export type SessionRecord = {
  id: string
  tenantId: string
  userId: string
  deviceId: string
  kind: SessionKind
  startTs: Date
  endTs: Date | null
  end: SessionEnd
  /** Bytes relayed, both directions, message bodies only. */
  bytes: number
  /** Bytes of terminal output kept for playback. */
  recordedBytes: number
  /** The file path of a transfer; null for a websocket session. */
  path: string | null
}

export type SessionFilter = { deviceId?: string; userId?: string }

/** What a device reports of a file before sending it. */
export type FileInfo = { path: string; size: number; uid?: number; gid?: number; mode?: number }

/** Where and how an uploaded file is written on the device. */
export type UploadTarget = { path: string; uid?: number; gid?: number; mode?: number }

export const DeviceconnectModel = {
  deviceParams: t.Object({ id: t.String({ maxLength: 64 }) }),
  clientCommandParams: t.Object({
    id: t.String({ maxLength: 64 }),
    command: t.Union([t.Literal('check-update'), t.Literal('send-inventory')]),
  }),
  device: t.Object({
    device_id: t.String(),
    status: t.Union([t.Literal('connected'), t.Literal('disconnected')]),
    created_ts: t.String({ format: 'date-time' }),
    updated_ts: t.String({ format: 'date-time' }),
  }),
  downloadQuery: t.Object({
    path: t.String({ maxLength: 4096, description: 'Absolute path on the device.' }),
  }),
  playbackQuery: t.Object({
    sleep_ms: t.Optional(
      t.Numeric({ minimum: 0, maximum: 10_000, description: 'Pause between replayed messages (ms).' }),
    ),
  }),
  sessionParams: t.Object({ id: t.String({ maxLength: 64 }) }),
  sessionsQuery: t.Object({
    device_id: t.Optional(t.String({ maxLength: 64 })),
    user_id: t.Optional(t.String({ maxLength: 64 })),
    page: t.Optional(t.Numeric({ description: 'Page number, from 1.', default: 1 })),
    per_page: t.Optional(t.Numeric({ description: 'Results per page (max 500).', default: 20 })),
  }),
  session: t.Object({
    id: t.String(),
    user_id: t.String(),
    device_id: t.String(),
    type: t.String({ description: 'remote (terminal, port forward), download or upload' }),
    start_ts: t.String({ format: 'date-time' }),
    end_ts: t.Optional(t.String({ format: 'date-time' })),
    status: t.String({ description: 'open, or how the session ended' }),
    bytes: t.Number(),
    recorded_bytes: t.Number(),
    path: t.Optional(t.String()),
  }),
}

export function toApiDevice(device: DeviceConnection) {
  return {
    device_id: device.deviceId,
    status: device.status,
    created_ts: device.createdTs.toISOString(),
    updated_ts: device.updatedTs.toISOString(),
  }
}

export function toApiSession(session: SessionRecord) {
  return {
    id: session.id,
    user_id: session.userId,
    device_id: session.deviceId,
    type: session.kind,
    start_ts: session.startTs.toISOString(),
    ...(session.endTs ? { end_ts: session.endTs.toISOString() } : {}),
    status: session.end,
    bytes: session.bytes,
    recorded_bytes: session.recordedBytes,
    ...(session.path !== null ? { path: session.path } : {}),
  }
}
