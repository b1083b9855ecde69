import { and, count, desc, eq, gt, lt, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { pgOutboxFor } from '../../events/outbox.pg.ts'
import { connectEvent, type DeviceconnectStore, sessionWhere } from './store.ts'
import { connectDevices, connectRecordings, connectSessions } from './tables.pg.ts'

/** deviceconnect's store on PostgreSQL (see store.ts for what each method promises). */
export function createPgDeviceconnectStore(db: PgDatabase): DeviceconnectStore {
  const outbox = pgOutboxFor(db)
  const findDevice = db
    .select()
    .from(connectDevices)
    .where(
      and(
        eq(connectDevices.tenantId, sql.placeholder('tenantId')),
        eq(connectDevices.deviceId, sql.placeholder('deviceId')),
      ),
    )
    .prepare('deviceconnect_find_device')

  return {
    async connectDevice(tenantId, deviceId, at) {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .insert(connectDevices)
          .values({ tenantId, deviceId, status: 'connected', version: 1, createdTs: at, updatedTs: at })
          .onConflictDoUpdate({
            target: [connectDevices.tenantId, connectDevices.deviceId],
            set: { status: 'connected', version: sql`${connectDevices.version} + 1`, updatedTs: at },
          })
          .returning({ version: connectDevices.version })
        await outbox.append(tx, connectEvent(tenantId, deviceId, 'connected', at))
        return row!.version
      })
    },

    async disconnectDevice(tenantId, deviceId, version, at) {
      return db.transaction(async (tx) => {
        const result = await tx
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
        if (result.length === 0) return false
        await outbox.append(tx, connectEvent(tenantId, deviceId, 'disconnected', at))
        return true
      })
    },

    async provisionDevice(tenantId, deviceId, at) {
      await db
        .insert(connectDevices)
        .values({ tenantId, deviceId, status: 'disconnected', version: 0, createdTs: at, updatedTs: at })
        .onConflictDoNothing()
    },

    async findDevice(tenantId, deviceId) {
      return (await findDevice.execute({ tenantId, deviceId }))[0]
    },

    async deleteDevice(tenantId, deviceId) {
      const result = await db
        .delete(connectDevices)
        .where(and(eq(connectDevices.tenantId, tenantId), eq(connectDevices.deviceId, deviceId)))
        .returning({ deviceId: connectDevices.deviceId })
      return result.length > 0
    },

    async deleteTenant(tenantId) {
      await db.transaction(async (tx) => {
        await tx.delete(connectDevices).where(eq(connectDevices.tenantId, tenantId))
        await tx.delete(connectSessions).where(eq(connectSessions.tenantId, tenantId))
        await tx.delete(connectRecordings).where(eq(connectRecordings.tenantId, tenantId))
      })
    },

    async resetLiveState(at) {
      await db.transaction(async (tx) => {
        await tx
          .update(connectDevices)
          .set({ status: 'disconnected', updatedTs: at })
          .where(eq(connectDevices.status, 'connected'))
        await tx
          .update(connectSessions)
          .set({ end: 'server_stopped', endTs: at })
          .where(eq(connectSessions.end, 'open'))
      })
    },

    async insertSession(session) {
      await db.insert(connectSessions).values(session)
    },

    async endSession(tenantId, id, outcome) {
      await db
        .update(connectSessions)
        .set(outcome)
        .where(
          and(
            eq(connectSessions.tenantId, tenantId),
            eq(connectSessions.id, id),
            eq(connectSessions.end, 'open'),
          ),
        )
    },

    async findSession(tenantId, id) {
      const [row] = await db
        .select()
        .from(connectSessions)
        .where(and(eq(connectSessions.tenantId, tenantId), eq(connectSessions.id, id)))
      return row
    },

    async listSessions(tenantId, filter, page) {
      const where = sessionWhere(connectSessions, tenantId, filter)
      const rows = await db
        .select()
        .from(connectSessions)
        .where(where)
        .orderBy(desc(connectSessions.startTs), desc(connectSessions.id))
        .limit(page.limit)
        .offset(page.offset)
      const [counted] = await db.select({ n: count() }).from(connectSessions).where(where)
      const total = counted?.n ?? 0
      return { sessions: rows, total }
    },

    async appendRecording(tenantId, sessionId, chunk, at) {
      await db
        .insert(connectRecordings)
        .values({ tenantId, sessionId, seq: chunk.seq, createdTs: at, data: Buffer.from(chunk.data) })
    },

    async readRecording(tenantId, sessionId, afterSeq, limit) {
      return await db
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
    },

    async deleteRecordingsBefore(before) {
      const gone = await db
        .delete(connectRecordings)
        .where(lt(connectRecordings.createdTs, before))
        .returning({ seq: connectRecordings.seq })
      return gone.length
    },
  }
}
