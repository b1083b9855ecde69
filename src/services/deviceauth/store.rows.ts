import { and, asc, count, eq, inArray, ne, type SQL, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { createDeviceEvents } from './events.ts'
import type { DeviceStatus } from './model.ts'
import { authSets, devices, deviceTokens } from './tables.ts'

export type DeviceRow = typeof devices.$inferSelect
export type AuthSetRow = typeof authSets.$inferSelect
export type TokenRow = typeof deviceTokens.$inferSelect

export type DeviceFilter = { statuses?: readonly string[]; ids?: readonly string[] }

/**
 * Counts how many times a write took a device token away (a token row deleted, directly or with its
 * auth set or device). In memory and synchronous on purpose: the device poll compares it with the
 * count it saw when it last found its token, so a fleet polling with cached tokens reads nothing.
 * Every such write goes through the store and bumps it, even one a rollback undoes: a count that
 * moved only costs a token another lookup. Writes that take no token away (accepting a device,
 * rejecting a pending one) leave it.
 */
export type RevocationCounter = {
  value: number
  /**
   * Set by a store whose database other instances share (PostgreSQL): brings `value` up to date
   * with every revocation committed before the call, so a token another instance took away is
   * looked up again. Absent when this process makes every revocation (SQLite).
   */
  sync?: () => Promise<void>
}

export const createRevocationCounter = (): RevocationCounter => ({ value: 0 })

/**
 * The row operations the store's atomic methods compose (synchronous, bun:sqlite): only the store
 * uses them, always inside one of its transactions.
 */
export type DeviceauthRows = ReturnType<typeof createDeviceauthRows>

export function createDeviceauthRows(db: Database, revocations: RevocationCounter) {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const ph = sql.placeholder
  const events = createDeviceEvents(db)
  // Prepared once: the auth request path and the per-request token check run these constantly.
  const deviceByIdentityHash = preparedOnFirstUse(() =>
    db
      .select()
      .from(devices)
      .where(and(eq(devices.tenantId, ph('tenantId')), eq(devices.identityHash, ph('hash'))))
      .prepare(),
  )
  const authSetByKey = preparedOnFirstUse(() =>
    db
      .select()
      .from(authSets)
      .where(
        and(
          eq(authSets.tenantId, ph('tenantId')),
          eq(authSets.deviceId, ph('deviceId')),
          eq(authSets.pubkey, ph('pubkey')),
        ),
      )
      .prepare(),
  )
  const upsertToken = preparedOnFirstUse(() =>
    db
      .insert(deviceTokens)
      .values({
        id: ph('id'),
        tenantId: ph('tenantId'),
        deviceId: ph('deviceId'),
        expiresTs: ph('expiresTs'),
        createdTs: ph('createdTs'),
      })
      .onConflictDoUpdate({
        target: deviceTokens.id,
        set: {
          expiresTs: sql`excluded.expires_ts`,
          createdTs: sql`excluded.created_ts`,
        },
      })
      .prepare(),
  )
  const tokenById = preparedOnFirstUse(() =>
    db
      .select({ deviceId: deviceTokens.deviceId })
      .from(deviceTokens)
      .where(and(eq(deviceTokens.id, ph('id')), eq(deviceTokens.tenantId, ph('tenantId'))))
      .prepare(),
  )

  const deviceWhere = (tenantId: string, filter: DeviceFilter): SQL | undefined => {
    const where = [eq(devices.tenantId, tenantId)]
    if (filter.statuses?.length) where.push(inArray(devices.status, [...filter.statuses] as DeviceStatus[]))
    if (filter.ids?.length) where.push(inArray(devices.id, [...filter.ids]))
    return and(...where)
  }

  /** Deletes the token rows `where` selects; the count moves only when one went. */
  const dropTokens = (where: SQL | undefined): boolean => {
    const gone = db.delete(deviceTokens).where(where).returning({ id: deviceTokens.id }).all().length > 0
    if (gone) revocations.value++
    return gone
  }
  /** Before a delete whose cascade takes the tokens `where` selects: moves the count if there are any. */
  const tokensGoing = (where: SQL | undefined): void => {
    if (db.select({ id: deviceTokens.id }).from(deviceTokens).where(where).limit(1).get()) revocations.value++
  }

  return {
    findDeviceById: (tenantId: string, id: string): DeviceRow | undefined =>
      db
        .select()
        .from(devices)
        .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
        .get(),

    findDeviceByIdentityHash: (tenantId: string, hash: string): DeviceRow | undefined =>
      deviceByIdentityHash.get({ tenantId, hash }),

    /** A device seen for the first time (pending) or preauthorized: its status "changes" from none. */
    insertDevice: (row: DeviceRow): void => {
      db.insert(devices).values(row).run()
      events.statusChanged(row.tenantId, row.id, row.status, row.createdTs)
    },

    setDeviceStatus: (tenantId: string, id: string, status: DeviceStatus, at: Date): void => {
      db.update(devices)
        .set({ status, updatedTs: at })
        .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
        .run()
      events.statusChanged(tenantId, id, status, at)
    },

    /** Deletes the device; its auth sets and tokens go with it (foreign-key cascade). */
    deleteDevice(tenantId: string, id: string): boolean {
      tokensGoing(
        and(
          eq(deviceTokens.tenantId, tenantId),
          inArray(
            deviceTokens.id,
            db.select({ id: authSets.id }).from(authSets).where(eq(authSets.deviceId, id)),
          ),
        ),
      )
      const deleted = db
        .delete(devices)
        .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
        .returning({ id: devices.id })
        .all()
      if (deleted.length > 0) events.decommissioned(tenantId, id)
      return deleted.length > 0
    },

    /** A page of devices sorted by status then id; `limit` is one more than the page to learn if more exist. */
    listDevices: (tenantId: string, filter: DeviceFilter, offset: number, limit: number): DeviceRow[] =>
      db
        .select()
        .from(devices)
        .where(deviceWhere(tenantId, filter))
        .orderBy(asc(devices.status), asc(devices.id))
        .limit(limit)
        .offset(offset)
        .all(),

    countDevices: (tenantId: string, status?: DeviceStatus): number =>
      db
        .select({ n: count() })
        .from(devices)
        .where(deviceWhere(tenantId, { statuses: status ? [status] : undefined }))
        .get()?.n ?? 0,

    /** The auth sets of these devices, oldest first. */
    listAuthSets: (tenantId: string, deviceIds: readonly string[]): AuthSetRow[] =>
      deviceIds.length === 0
        ? []
        : db
            .select()
            .from(authSets)
            .where(and(eq(authSets.tenantId, tenantId), inArray(authSets.deviceId, [...deviceIds])))
            .orderBy(asc(authSets.createdTs), asc(sql`rowid`))
            .all(),

    findAuthSetById: (tenantId: string, id: string): AuthSetRow | undefined =>
      db
        .select()
        .from(authSets)
        .where(and(eq(authSets.tenantId, tenantId), eq(authSets.id, id)))
        .get(),

    findAuthSetByKey: (tenantId: string, deviceId: string, pubkey: string): AuthSetRow | undefined =>
      authSetByKey.get({ tenantId, deviceId, pubkey }),

    authSetStatuses: (tenantId: string, deviceId: string): DeviceStatus[] =>
      db
        .select({ status: authSets.status })
        .from(authSets)
        .where(and(eq(authSets.tenantId, tenantId), eq(authSets.deviceId, deviceId)))
        .all()
        .map((row) => row.status),

    insertAuthSet: (row: AuthSetRow): void => {
      db.insert(authSets).values(row).run()
    },

    /** Sets an auth set's status; one that is not accepted has no token, so its token row goes. */
    setAuthSetStatus(tenantId: string, id: string, status: DeviceStatus): void {
      db.update(authSets)
        .set({ status })
        .where(and(eq(authSets.tenantId, tenantId), eq(authSets.id, id)))
        .run()
      if (status !== 'accepted') dropTokens(and(eq(deviceTokens.tenantId, tenantId), eq(deviceTokens.id, id)))
    },

    /** Rejects the device's accepted auth sets other than `keepId` (at most one is accepted) and drops their tokens. */
    rejectOtherAcceptedAuthSets(tenantId: string, deviceId: string, keepId: string): void {
      const others = and(
        eq(authSets.tenantId, tenantId),
        eq(authSets.deviceId, deviceId),
        eq(authSets.status, 'accepted'),
        ne(authSets.id, keepId),
      )
      dropTokens(
        and(
          eq(deviceTokens.tenantId, tenantId),
          inArray(deviceTokens.id, db.select({ id: authSets.id }).from(authSets).where(others)),
        ),
      )
      db.update(authSets).set({ status: 'rejected' }).where(others).run()
    },

    /** Deletes an auth set; its token goes with it (foreign-key cascade). */
    deleteAuthSet: (tenantId: string, id: string): void => {
      tokensGoing(and(eq(deviceTokens.tenantId, tenantId), eq(deviceTokens.id, id)))
      db.delete(authSets)
        .where(and(eq(authSets.tenantId, tenantId), eq(authSets.id, id)))
        .run()
    },

    /** Stores the token of an accepted auth set; a repeat request replaces it (one token per auth set). */
    upsertToken: (row: TokenRow): void => {
      upsertToken.run(row)
    },

    findTokenById: (tenantId: string, id: string): { deviceId: string } | undefined =>
      tokenById.get({ id, tenantId }),

    deleteToken: (tenantId: string, id: string): boolean =>
      dropTokens(and(eq(deviceTokens.tenantId, tenantId), eq(deviceTokens.id, id))),
  }
}
