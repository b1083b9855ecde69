import { and, type Column, count, desc, eq, gt, lt, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { outboxFor } from '../../events/outbox.ts'
import type { ConnectionStatus, DeviceConnection, SessionEnd, SessionFilter, SessionRecord } from './model.ts'
import { type FullLimit, MemorySlots, type SessionSlot, type SlotLimits } from './registry.ts'
import { connectDevices, connectRecordings, connectSessions } from './tables.ts'

/** How a session ended, written once when it does. */
export type SessionOutcome = { end: SessionEnd; endTs: Date; bytes: number; recordedBytes: number }

/** One stored piece of a session's terminal output. */
export type RecordingChunk = { seq: number; data: Uint8Array }

/** deviceconnect's persistent state: device connection rows, the session audit list, recordings. */
export interface DeviceconnectStore {
  /** Marks the device connected (creating its row), bumping its version; resolves to the new version. */
  connectDevice(tenantId: string, deviceId: string, at: Date): Promise<number>
  /** Marks it disconnected only if `version` is still the latest connect; resolves to whether it did. */
  disconnectDevice(tenantId: string, deviceId: string, version: number, at: Date): Promise<boolean>
  /** Creates a disconnected row for an accepted device that has none; an existing row is kept. */
  provisionDevice(tenantId: string, deviceId: string, at: Date): Promise<void>
  /** The device's row, or undefined when deviceconnect has never heard of it. */
  findDevice(tenantId: string, deviceId: string): Promise<DeviceConnection | undefined>
  /** Forgets the device (its sessions stay in the audit list); resolves to whether it existed. */
  deleteDevice(tenantId: string, deviceId: string): Promise<boolean>
  /** Forgets every device, session and recording of a tenant. */
  deleteTenant(tenantId: string): Promise<void>
  /** At start: no connection survives a restart, and no session either. */
  resetLiveState(at: Date): Promise<void>
  /** Records a new open session. */
  insertSession(session: SessionRecord): Promise<void>
  /** Closes an open session with its outcome; a session already ended is left as it is. */
  endSession(tenantId: string, id: string, outcome: SessionOutcome): Promise<void>
  findSession(tenantId: string, id: string): Promise<SessionRecord | undefined>
  /** Sessions newest first, with the total matching the filter. */
  listSessions(
    tenantId: string,
    filter: SessionFilter,
    page: { offset: number; limit: number },
  ): Promise<{ sessions: SessionRecord[]; total: number }>
  /** Appends one piece of terminal output (pieces are numbered by the caller, from 0). */
  appendRecording(tenantId: string, sessionId: string, chunk: RecordingChunk, at: Date): Promise<void>
  /** Up to `limit` pieces after `afterSeq` (-1 for the first), in order. */
  readRecording(
    tenantId: string,
    sessionId: string,
    afterSeq: number,
    limit: number,
  ): Promise<RecordingChunk[]>
  /** Deletes recordings made before `before`; resolves to how many pieces went. */
  deleteRecordingsBefore(before: Date): Promise<number>
  /**
   * Takes the place of one more open session unless the user's or the device's limit is reached
   * (counting every instance's sessions); resolves to the limit reached, if any. A place counts
   * for `leaseMs` unless its instance renews it. `releasing` are places being given back (their
   * sessions ended) that do not count any more, whether or not their release has landed yet.
   */
  takeSlot(
    slot: SessionSlot,
    limits: SlotLimits,
    releasing?: readonly string[],
  ): Promise<FullLimit | undefined>
  /** Gives a session's place back (nothing when it is gone already). */
  releaseSlot(id: string): Promise<void>
  /** Keeps the places an instance holds counting for `leaseMs` more (its heartbeat). */
  renewSlots(ids: readonly string[], leaseMs: number): Promise<void>
  /**
   * Drops the places no longer renewed (their instance stopped without giving them back, or died)
   * and ends their sessions still open in the audit list as `server_stopped`; resolves to how many.
   */
  dropExpiredSlots(at: Date): Promise<number>
}

type SessionRow = typeof connectSessions.$inferSelect

const toSession = (row: SessionRow): SessionRecord => ({ ...row })

/** The sessions of a tenant matching `filter`, over either engine's sessions table. */
export function sessionWhere(
  sessions: Record<'tenantId' | 'deviceId' | 'userId', Column>,
  tenantId: string,
  filter: SessionFilter,
) {
  return and(
    eq(sessions.tenantId, tenantId),
    filter.deviceId !== undefined ? eq(sessions.deviceId, filter.deviceId) : undefined,
    filter.userId !== undefined ? eq(sessions.userId, filter.userId) : undefined,
  )
}

/** The event of a device's connection changing, as both engines write it. */
export const connectEvent = (tenantId: string, deviceId: string, status: ConnectionStatus, at: Date) => ({
  tenantId,
  type: 'device-connect-status-changed' as const,
  subject: deviceId,
  time: at,
  data: { id: deviceId, status, updated_ts: at.toISOString() },
})

export function createDeviceconnectStore(db: Database): DeviceconnectStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const outbox = outboxFor(db)
  // One process: every session runs here, so the places are counted in memory, and never expire.
  const slots = new MemorySlots()
  /** Written in the transaction that changes the device's state, so an event exists exactly when the change does. */
  const appendConnectEvent = (tenantId: string, deviceId: string, status: ConnectionStatus, at: Date) =>
    outbox.append(connectEvent(tenantId, deviceId, status, at))
  const findDevice = preparedOnFirstUse(() =>
    db
      .select()
      .from(connectDevices)
      .where(
        and(
          eq(connectDevices.tenantId, sql.placeholder('tenantId')),
          eq(connectDevices.deviceId, sql.placeholder('deviceId')),
        ),
      )
      .prepare(),
  )

  return {
    async connectDevice(tenantId, deviceId, at) {
      return db.transaction((tx) => {
        const row = tx
          .insert(connectDevices)
          .values({ tenantId, deviceId, status: 'connected', version: 1, createdTs: at, updatedTs: at })
          .onConflictDoUpdate({
            target: [connectDevices.tenantId, connectDevices.deviceId],
            set: { status: 'connected', version: sql`${connectDevices.version} + 1`, updatedTs: at },
          })
          .returning({ version: connectDevices.version })
          .get()
        appendConnectEvent(tenantId, deviceId, 'connected', at)
        return row!.version
      })
    },

    async disconnectDevice(tenantId, deviceId, version, at) {
      return db.transaction((tx) => {
        const result = tx
          .update(connectDevices)
          .set({ status: 'disconnected', updatedTs: at })
          .where(
            and(
              eq(connectDevices.tenantId, tenantId),
              eq(connectDevices.deviceId, deviceId),
              eq(connectDevices.version, version),
            ),
          )
          .returning({ version: connectDevices.version })
          .all()
        if (result.length === 0) return false
        appendConnectEvent(tenantId, deviceId, 'disconnected', at)
        return true
      })
    },

    async provisionDevice(tenantId, deviceId, at) {
      db.insert(connectDevices)
        .values({ tenantId, deviceId, status: 'disconnected', version: 0, createdTs: at, updatedTs: at })
        .onConflictDoNothing()
        .run()
    },

    async findDevice(tenantId, deviceId) {
      return findDevice.get({ tenantId, deviceId })
    },

    async deleteDevice(tenantId, deviceId) {
      const result = db
        .delete(connectDevices)
        .where(and(eq(connectDevices.tenantId, tenantId), eq(connectDevices.deviceId, deviceId)))
        .returning({ deviceId: connectDevices.deviceId })
        .all()
      return result.length > 0
    },

    async deleteTenant(tenantId) {
      db.transaction((tx) => {
        tx.delete(connectDevices).where(eq(connectDevices.tenantId, tenantId)).run()
        tx.delete(connectSessions).where(eq(connectSessions.tenantId, tenantId)).run()
        tx.delete(connectRecordings).where(eq(connectRecordings.tenantId, tenantId)).run()
      })
      slots.releaseTenant(tenantId)
    },

    async resetLiveState(at) {
      db.transaction((tx) => {
        const dropped = tx
          .update(connectDevices)
          .set({ status: 'disconnected', updatedTs: at })
          .where(eq(connectDevices.status, 'connected'))
          .returning({ tenantId: connectDevices.tenantId, deviceId: connectDevices.deviceId })
          .all()
        // Those the previous process left connected: their connections ended with it.
        for (const row of dropped) appendConnectEvent(row.tenantId, row.deviceId, 'disconnected', at)
        tx.update(connectSessions)
          .set({ end: 'server_stopped', endTs: at })
          .where(eq(connectSessions.end, 'open'))
          .run()
      })
    },

    async insertSession(session) {
      db.insert(connectSessions).values(session).run()
    },

    async endSession(tenantId, id, outcome) {
      db.update(connectSessions)
        .set(outcome)
        .where(
          and(
            eq(connectSessions.tenantId, tenantId),
            eq(connectSessions.id, id),
            eq(connectSessions.end, 'open'),
          ),
        )
        .run()
    },

    async findSession(tenantId, id) {
      const row = db
        .select()
        .from(connectSessions)
        .where(and(eq(connectSessions.tenantId, tenantId), eq(connectSessions.id, id)))
        .get()
      return row && toSession(row)
    },

    async listSessions(tenantId, filter, page) {
      const where = sessionWhere(connectSessions, tenantId, filter)
      const rows = db
        .select()
        .from(connectSessions)
        .where(where)
        .orderBy(desc(connectSessions.startTs), desc(connectSessions.id))
        .limit(page.limit)
        .offset(page.offset)
        .all()
      const total = db.select({ n: count() }).from(connectSessions).where(where).get()?.n ?? 0
      return { sessions: rows.map(toSession), total }
    },

    async appendRecording(tenantId, sessionId, chunk, at) {
      db.insert(connectRecordings)
        .values({ tenantId, sessionId, seq: chunk.seq, createdTs: at, data: Buffer.from(chunk.data) })
        .run()
    },

    async readRecording(tenantId, sessionId, afterSeq, limit) {
      return db
        .select({ seq: connectRecordings.seq, data: connectRecordings.data })
        .from(connectRecordings)
        .where(
          and(
            eq(connectRecordings.tenantId, tenantId),
            eq(connectRecordings.sessionId, sessionId),
            gt(connectRecordings.seq, afterSeq),
          ),
        )
        .orderBy(connectRecordings.seq)
        .limit(limit)
        .all()
    },

    async deleteRecordingsBefore(before) {
      return db
        .delete(connectRecordings)
        .where(lt(connectRecordings.createdTs, before))
        .returning({ seq: connectRecordings.seq })
        .all().length
    },

    async takeSlot(slot, limits, releasing) {
      return slots.take(slot, limits, releasing)
    },

    async releaseSlot(id) {
      slots.release(id)
    },

    async renewSlots() {},

    async dropExpiredSlots() {
      return 0
    },
  }
}
