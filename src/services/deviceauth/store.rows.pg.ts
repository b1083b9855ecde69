import { and, asc, count, eq, getTableColumns, inArray, ne, type SQL, sql } from 'drizzle-orm'
import type { PgDatabase, PgTransaction } from '../../../db/pg.ts'
import type { NewEvent } from '../../events/model.ts'
import { deviceEvents } from './events.ts'
import type { DeviceStatus } from './model.ts'
import type { AuthSetRow, DeviceFilter, DeviceRow, TokenRow } from './store.rows.ts'
import { authSets, devices, deviceTokens, revocations } from './tables.pg.ts'

/** A handle that reads: the pool, or the transaction of the write in progress. */
type Reader = PgDatabase | PgTransaction

/**
 * One atomic write of the PostgreSQL store in progress: its transaction, the events it raises
 * (appended last, as the outbox asks) and whether it took a device token away.
 */
export type PgWrite = {
  tx: PgTransaction
  events: (Omit<NewEvent, 'time'> & { time?: Date })[]
  revoked: boolean
}

/** An auth set as the SQLite side shapes it: the insertion order stays inside the store. */
const { rowid: _rowid, ...authSetColumns } = getTableColumns(authSets)
const first = <T>(rows: T[]): T | undefined => rows[0]

/**
 * The row operations the PostgreSQL store's atomic methods compose (the twin of store.rows.ts):
 * reads take the pool or the write's transaction, writes take the write.
 */
export function createPgDeviceauthRows(db: PgDatabase) {
  // Long as a whole: one closure over the statements its methods share; each method is short.
  const ph = sql.placeholder
  // Prepared: the per-request token check whenever the revocation count moved.
  const tokenById = db
    .select({ deviceId: deviceTokens.deviceId })
    .from(deviceTokens)
    .where(and(eq(deviceTokens.id, ph('id')), eq(deviceTokens.tenantId, ph('tenantId'))))
    .prepare('deviceauth_token_by_id')
  const deviceKey = (tenantId: string, id: string) => and(eq(devices.tenantId, tenantId), eq(devices.id, id))
  const tokenKey = (tenantId: string, id: string) =>
    and(eq(deviceTokens.tenantId, tenantId), eq(deviceTokens.id, id))
  const deviceWhere = (tenantId: string, filter: DeviceFilter): SQL | undefined => {
    const where = [eq(devices.tenantId, tenantId)]
    if (filter.statuses?.length) where.push(inArray(devices.status, [...filter.statuses] as DeviceStatus[]))
    if (filter.ids?.length) where.push(inArray(devices.id, [...filter.ids]))
    return and(...where)
  }

  /** Deletes the token rows `where` selects; the write counts as a revocation only when one went. */
  async function dropTokens(w: PgWrite, where: SQL | undefined): Promise<boolean> {
    const gone = (await w.tx.delete(deviceTokens).where(where).returning({ id: deviceTokens.id })).length > 0
    if (gone) w.revoked = true
    return gone
  }

  /** After a device's status was rewritten: provisioned first when it became accepted, then the change. */
  async function statusChanged(w: PgWrite, tenantId: string, id: string, status: DeviceStatus, at: Date) {
    if (status === 'accepted') {
      const device = first(await w.tx.select().from(devices).where(deviceKey(tenantId, id)))
      const accepted = await w.tx
        .select(authSetColumns)
        .from(authSets)
        .where(
          and(eq(authSets.tenantId, tenantId), eq(authSets.deviceId, id), eq(authSets.status, 'accepted')),
        )
        .orderBy(asc(authSets.rowid))
      if (device) w.events.push(deviceEvents.provisioned(device, accepted, at))
    }
    w.events.push(deviceEvents.statusChanged(tenantId, id, status, at))
  }

  return {
    findDeviceById: async (q: Reader, tenantId: string, id: string): Promise<DeviceRow | undefined> =>
      first(await q.select().from(devices).where(deviceKey(tenantId, id))),

    findDeviceByIdentityHash: async (q: Reader, tenantId: string, hash: string) =>
      first(
        await q
          .select()
          .from(devices)
          .where(and(eq(devices.tenantId, tenantId), eq(devices.identityHash, hash))),
      ),

    async insertDevice(w: PgWrite, row: DeviceRow): Promise<void> {
      await w.tx.insert(devices).values(row)
      await statusChanged(w, row.tenantId, row.id, row.status, row.createdTs)
    },

    async setDeviceStatus(w: PgWrite, tenantId: string, id: string, status: DeviceStatus, at: Date) {
      await w.tx.update(devices).set({ status, updatedTs: at }).where(deviceKey(tenantId, id))
      await statusChanged(w, tenantId, id, status, at)
    },

    /** Deletes the device with its tokens, auth sets (foreign-key cascade) and a decommission event. */
    async deleteDevice(w: PgWrite, tenantId: string, id: string): Promise<boolean> {
      const sets = w.tx.select({ id: authSets.id }).from(authSets).where(eq(authSets.deviceId, id))
      await dropTokens(w, and(eq(deviceTokens.tenantId, tenantId), inArray(deviceTokens.id, sets)))
      const deleted = await w.tx.delete(devices).where(deviceKey(tenantId, id)).returning({ id: devices.id })
      if (deleted.length > 0) w.events.push(deviceEvents.decommissioned(tenantId, id))
      return deleted.length > 0
    },

    listDevices: (q: Reader, tenantId: string, filter: DeviceFilter, offset: number, limit: number) =>
      q
        .select()
        .from(devices)
        .where(deviceWhere(tenantId, filter))
        .orderBy(asc(devices.status), asc(devices.id))
        .limit(limit)
        .offset(offset),

    countDevices: async (q: Reader, tenantId: string, status?: DeviceStatus): Promise<number> =>
      first(
        await q
          .select({ n: count() })
          .from(devices)
          .where(deviceWhere(tenantId, { statuses: status ? [status] : undefined })),
      )?.n ?? 0,

    listAuthSets: async (q: Reader, tenantId: string, deviceIds: readonly string[]): Promise<AuthSetRow[]> =>
      deviceIds.length === 0
        ? []
        : q
            .select(authSetColumns)
            .from(authSets)
            .where(and(eq(authSets.tenantId, tenantId), inArray(authSets.deviceId, [...deviceIds])))
            .orderBy(asc(authSets.createdTs), asc(authSets.rowid)),

    findAuthSetById: async (q: Reader, tenantId: string, id: string): Promise<AuthSetRow | undefined> =>
      first(
        await q
          .select(authSetColumns)
          .from(authSets)
          .where(and(eq(authSets.tenantId, tenantId), eq(authSets.id, id))),
      ),

    findAuthSetByKey: async (q: Reader, tenantId: string, deviceId: string, pubkey: string) =>
      first(
        await q
          .select(authSetColumns)
          .from(authSets)
          .where(
            and(
              eq(authSets.tenantId, tenantId),
              eq(authSets.deviceId, deviceId),
              eq(authSets.pubkey, pubkey),
            ),
          ),
      ),

    authSetStatuses: async (q: Reader, tenantId: string, deviceId: string): Promise<DeviceStatus[]> =>
      (
        await q
          .select({ status: authSets.status })
          .from(authSets)
          .where(and(eq(authSets.tenantId, tenantId), eq(authSets.deviceId, deviceId)))
      ).map((row) => row.status),

    async insertAuthSet(w: PgWrite, row: AuthSetRow): Promise<void> {
      await w.tx.insert(authSets).values(row)
    },

    /** Sets an auth set's status; one that is not accepted has no token, so its token row goes. */
    async setAuthSetStatus(w: PgWrite, tenantId: string, id: string, status: DeviceStatus): Promise<void> {
      await w.tx
        .update(authSets)
        .set({ status })
        .where(and(eq(authSets.tenantId, tenantId), eq(authSets.id, id)))
      if (status !== 'accepted') await dropTokens(w, tokenKey(tenantId, id))
    },

    /** Rejects the device's accepted auth sets other than `keepId` (at most one is accepted) and drops their tokens. */
    async rejectOtherAcceptedAuthSets(w: PgWrite, tenantId: string, deviceId: string, keepId: string) {
      const others = and(
        eq(authSets.tenantId, tenantId),
        eq(authSets.deviceId, deviceId),
        eq(authSets.status, 'accepted'),
        ne(authSets.id, keepId),
      )
      const ids = w.tx.select({ id: authSets.id }).from(authSets).where(others)
      await dropTokens(w, and(eq(deviceTokens.tenantId, tenantId), inArray(deviceTokens.id, ids)))
      await w.tx.update(authSets).set({ status: 'rejected' }).where(others)
    },

    /** Deletes an auth set with its token. */
    async deleteAuthSet(w: PgWrite, tenantId: string, id: string): Promise<void> {
      await dropTokens(w, tokenKey(tenantId, id))
      await w.tx.delete(authSets).where(and(eq(authSets.tenantId, tenantId), eq(authSets.id, id)))
    },

    /** Stores the token of an accepted auth set; a repeat request replaces it (one token per auth set). */
    async upsertToken(w: PgWrite, row: TokenRow): Promise<void> {
      await w.tx
        .insert(deviceTokens)
        .values(row)
        .onConflictDoUpdate({
          target: deviceTokens.id,
          set: { expiresTs: sql`excluded.expires_ts`, createdTs: sql`excluded.created_ts` },
        })
    },

    findTokenById: async (tenantId: string, id: string) => first(await tokenById.execute({ id, tenantId })),

    deleteToken: (w: PgWrite, tenantId: string, id: string): Promise<boolean> =>
      dropTokens(w, tokenKey(tenantId, id)),

    /** Counts a revocation in the shared count (in `tx`: it becomes visible with the revocation). */
    async countRevocation(tx: PgTransaction): Promise<number> {
      const [row] = await tx
        .insert(revocations)
        .values({ id: 1, value: 1 })
        .onConflictDoUpdate({ target: revocations.id, set: { value: sql`${revocations.value} + 1` } })
        .returning({ value: revocations.value })
      return row!.value
    },
  }
}
