import { and, count, desc, eq, gt, inArray, lt, lte, notInArray, or, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { pgOutboxFor } from '../../events/outbox.pg.ts'
import { connectEvent, type DeviceconnectStore, sessionWhere } from './store.ts'
import { connectDevices, connectOpenSessions, connectRecordings, connectSessions } from './tables.pg.ts'

/**
 * The classes of the transaction-scoped advisory locks on a user's and a device's open sessions
 * ("dcsu", "dcsd" in ASCII); the key is the hash of tenant and user, or tenant and device.
 */
const SLOT_LOCK = { user: 0x64637375, device: 0x64637364 } as const

/** The database's clock `ms` milliseconds from now: every instance reads the same clock. */
const dbClockIn = (ms: number) => sql`clock_timestamp() + ${ms}::int * interval '1 millisecond'`

/**
 * deviceconnect's store on PostgreSQL (see store.ts for what each method promises). The places of
 * open sessions are rows of `deviceconnect_open_sessions`: taking one locks the user's and then the
 * device's advisory lock (always in that order, so two takers never wait on each other crosswise),
 * counts the rows still within their lease, and inserts, so instances taking places for the same
 * user or device at the same moment decide one at a time.
 */
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
        await tx.delete(connectOpenSessions).where(eq(connectOpenSessions.tenantId, tenantId))
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
        await tx.delete(connectOpenSessions)
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

    async takeSlot(slot, limits, releasing = []) {
      const { tenantId, userId, deviceId } = slot
      return db.transaction(async (tx) => {
        await tx.execute(
          sql`SELECT pg_advisory_xact_lock(${SLOT_LOCK.user}::int4, hashtext(${`${tenantId}/${userId}`}))`,
        )
        await tx.execute(
          sql`SELECT pg_advisory_xact_lock(${SLOT_LOCK.device}::int4, hashtext(${`${tenantId}/${deviceId}`}))`,
        )
        const o = connectOpenSessions
        const [counted] = await tx
          .select({
            users: sql<number>`count(*) FILTER (WHERE ${o.userId} = ${userId})::int`,
            devices: sql<number>`count(*) FILTER (WHERE ${o.deviceId} = ${deviceId})::int`,
          })
          .from(o)
          .where(
            and(
              eq(o.tenantId, tenantId),
              or(eq(o.userId, userId), eq(o.deviceId, deviceId)),
              gt(o.expiresTs, sql`clock_timestamp()`),
              releasing.length > 0 ? notInArray(o.id, [...releasing]) : undefined,
            ),
          )
        if ((counted?.users ?? 0) >= limits.perUser) return 'user'
        if ((counted?.devices ?? 0) >= limits.perDevice) return 'device'
        await tx
          .insert(o)
          .values({ ...slot, expiresTs: dbClockIn(limits.leaseMs) })
          .onConflictDoNothing()
        return undefined
      })
    },

    async releaseSlot(id) {
      await db.delete(connectOpenSessions).where(eq(connectOpenSessions.id, id))
    },

    async renewSlots(ids, leaseMs) {
      if (ids.length === 0) return
      await db
        .update(connectOpenSessions)
        .set({ expiresTs: dbClockIn(leaseMs) })
        .where(inArray(connectOpenSessions.id, [...ids]))
    },

    async dropExpiredSlots(at) {
      return db.transaction(async (tx) => {
        const gone = await tx
          .delete(connectOpenSessions)
          .where(lte(connectOpenSessions.expiresTs, sql`clock_timestamp()`))
          .returning({ id: connectOpenSessions.id, tenantId: connectOpenSessions.tenantId })
        if (gone.length === 0) return 0
        await tx
          .update(connectSessions)
          .set({ end: 'server_stopped', endTs: at })
          .where(
            and(
              inArray(
                connectSessions.id,
                gone.map((row) => row.id),
              ),
              eq(connectSessions.end, 'open'),
            ),
          )
        return gone.length
      })
    },
  }
}
