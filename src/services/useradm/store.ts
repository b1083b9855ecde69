import {
  and,
  asc,
  type Column,
  count,
  desc,
  eq,
  gt,
  inArray,
  isNotNull,
  isNull,
  lt,
  ne,
  notInArray,
  type SQL,
  sql,
} from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { settings, users, userTokens } from './tables.ts'

export type UserRow = typeof users.$inferSelect
export type TokenRow = typeof userTokens.$inferSelect
export type SettingsRow = typeof settings.$inferSelect

export type UserFilter = {
  ids?: string[]
  emails?: string[]
  createdAfter?: Date
  createdBefore?: Date
  updatedAfter?: Date
  updatedBefore?: Date
}

/**
 * True when a write failed on a UNIQUE constraint (the service turns it into a 409/422), on either
 * engine: SQLite says so in its message, PostgreSQL by its error code (23505), which Drizzle
 * carries as the cause of its own error.
 */
export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (/UNIQUE constraint failed/.test(err.message)) return true
  if ((err as { errno?: unknown }).errno === '23505') return true
  return err.cause !== undefined && isUniqueViolation(err.cause)
}

/** The columns a user filter reads, as either engine's `users` table has them. */
type UserFilterColumns = Record<'tenantId' | 'id' | 'email' | 'createdTs' | 'updatedTs', Column>

/** The conditions of `listUsers` (shared by both engines' stores). */
export function userFilterWhere(columns: UserFilterColumns, tenantId: string, filter: UserFilter): SQL[] {
  const where: SQL[] = [eq(columns.tenantId, tenantId)]
  if (filter.ids?.length) where.push(inArray(columns.id, filter.ids))
  if (filter.emails?.length) where.push(inArray(columns.email, filter.emails))
  if (filter.createdAfter) where.push(gt(columns.createdTs, filter.createdAfter))
  if (filter.createdBefore) where.push(lt(columns.createdTs, filter.createdBefore))
  if (filter.updatedAfter) where.push(gt(columns.updatedTs, filter.updatedAfter))
  if (filter.updatedBefore) where.push(lt(columns.updatedTs, filter.updatedBefore))
  return where
}

/** A token row as the per-request revocation check reads it. */
export type TokenCheck = Pick<TokenRow, 'id' | 'userId' | 'lastUsedTs' | 'name'>

/**
 * Users, their tokens (login sessions and personal access tokens) and settings. Every method is
 * one atomic change; the per-request token check stays a single prepared read.
 */
export interface UseradmStore {
  /** The user with this id in the tenant, if any. */
  findUserById(tenantId: string, id: string): Promise<UserRow | undefined>
  /** The user with this (normalised) email in the tenant, if any. */
  findUserByEmail(tenantId: string, email: string): Promise<UserRow | undefined>
  /** The tenant's users matching every given filter, by email. */
  listUsers(tenantId: string, filter: UserFilter): Promise<UserRow[]>
  /** How many users the tenant has. */
  countUsers(tenantId: string): Promise<number>
  /** Adds a user; a taken email throws a unique violation (see isUniqueViolation). */
  insertUser(row: UserRow): Promise<void>
  /** Changes the given fields of a user. */
  updateUser(
    id: string,
    patch: Partial<Pick<UserRow, 'email' | 'passwordHash' | 'updatedTs' | 'loginTs'>>,
  ): Promise<void>
  /** Deletes the user; its tokens and own settings go with it. */
  deleteUser(tenantId: string, id: string): Promise<void>
  /** The revocation check on every authenticated management request. */
  findTokenById(id: string): Promise<TokenCheck | undefined>
  /** Records an issued token (session or personal). */
  insertToken(row: TokenRow): Promise<void>
  /** Deletes one of the user's tokens (none: nothing happens). */
  deleteToken(tenantId: string, userId: string, id: string): Promise<void>
  /** Revokes every token of a user except `keepId` (the caller's own, when it changes its password). */
  deleteUserTokens(userId: string, keepId?: string): Promise<void>
  /** Keeps a user's newest `keep` login sessions and drops the rest. */
  pruneSessions(userId: string, keep: number): Promise<void>
  /** The user's personal access tokens, oldest first. */
  listPersonalTokens(tenantId: string, userId: string): Promise<TokenRow[]>
  /** How many personal access tokens the user has. */
  countPersonalTokens(userId: string): Promise<number>
  /** Records when a personal access token was last used. */
  touchToken(id: string, at: Date): Promise<void>
  /** The user's settings, if ever saved. */
  findSettings(tenantId: string, userId: string): Promise<SettingsRow | undefined>
  /** Replaces the settings only if their etag still equals `ifMatch` (when given); false otherwise. */
  saveSettings(row: SettingsRow, ifMatch: string | undefined): Promise<boolean>
}

export function createUseradmStore(db: Database): UseradmStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const tokenById = preparedOnFirstUse(() =>
    db
      .select({
        id: userTokens.id,
        userId: userTokens.userId,
        lastUsedTs: userTokens.lastUsedTs,
        name: userTokens.name,
      })
      .from(userTokens)
      .where(eq(userTokens.id, sql.placeholder('id')))
      .prepare(),
  )

  return {
    findUserById: async (tenantId: string, id: string) =>
      db
        .select()
        .from(users)
        .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
        .get(),

    findUserByEmail: async (tenantId: string, email: string) =>
      db
        .select()
        .from(users)
        .where(and(eq(users.tenantId, tenantId), eq(users.email, email)))
        .get(),

    listUsers: async (tenantId: string, filter: UserFilter) =>
      db
        .select()
        .from(users)
        .where(and(...userFilterWhere(users, tenantId, filter)))
        .orderBy(asc(users.email))
        .all(),

    countUsers: async (tenantId: string) =>
      db.select({ n: count() }).from(users).where(eq(users.tenantId, tenantId)).get()?.n ?? 0,

    insertUser: async (row: UserRow) => {
      db.insert(users).values(row).run()
    },

    updateUser: async (
      id: string,
      patch: Partial<Pick<UserRow, 'email' | 'passwordHash' | 'updatedTs' | 'loginTs'>>,
    ) => {
      db.update(users).set(patch).where(eq(users.id, id)).run()
    },

    /** Deletes the user; its tokens and own settings go with it. */
    async deleteUser(tenantId: string, id: string) {
      db.transaction((tx) => {
        tx.delete(users)
          .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
          .run()
        tx.delete(settings)
          .where(and(eq(settings.tenantId, tenantId), eq(settings.userId, id)))
          .run()
      })
    },

    /** The revocation check on every authenticated management request. */
    findTokenById: async (id: string) => tokenById.get({ id }),

    insertToken: async (row: TokenRow) => {
      db.insert(userTokens).values(row).run()
    },

    async deleteToken(tenantId: string, userId: string, id: string) {
      db.delete(userTokens)
        .where(and(eq(userTokens.tenantId, tenantId), eq(userTokens.userId, userId), eq(userTokens.id, id)))
        .run()
    },

    /** Revokes every token of a user except `keepId` (the caller's own, when it changes its password). */
    async deleteUserTokens(userId: string, keepId?: string) {
      const where = [eq(userTokens.userId, userId)]
      if (keepId) where.push(ne(userTokens.id, keepId))
      db.delete(userTokens)
        .where(and(...where))
        .run()
    },

    /** Keeps a user's newest `keep` login sessions and drops the rest. */
    async pruneSessions(userId: string, keep: number) {
      const sessions = and(eq(userTokens.userId, userId), isNull(userTokens.name))
      const newest = db
        .select({ id: userTokens.id })
        .from(userTokens)
        .where(sessions)
        .orderBy(desc(userTokens.createdTs), desc(sql`rowid`))
        .limit(keep)
      db.delete(userTokens)
        .where(and(sessions, notInArray(userTokens.id, newest)))
        .run()
    },

    listPersonalTokens: async (tenantId: string, userId: string) =>
      db
        .select()
        .from(userTokens)
        .where(
          and(eq(userTokens.tenantId, tenantId), eq(userTokens.userId, userId), isNotNull(userTokens.name)),
        )
        .orderBy(asc(userTokens.createdTs))
        .all(),

    countPersonalTokens: async (userId: string) =>
      db
        .select({ n: count() })
        .from(userTokens)
        .where(and(eq(userTokens.userId, userId), isNotNull(userTokens.name)))
        .get()?.n ?? 0,

    touchToken: async (id: string, at: Date) => {
      db.update(userTokens).set({ lastUsedTs: at }).where(eq(userTokens.id, id)).run()
    },

    findSettings: async (tenantId: string, userId: string) =>
      db
        .select()
        .from(settings)
        .where(and(eq(settings.tenantId, tenantId), eq(settings.userId, userId)))
        .get(),

    /** Replaces the settings only if their etag still equals `ifMatch` (when given); false otherwise. */
    async saveSettings(row: SettingsRow, ifMatch: string | undefined) {
      return db.transaction((tx) => {
        if (ifMatch !== undefined) {
          const current = tx
            .select({ etag: settings.etag })
            .from(settings)
            .where(and(eq(settings.tenantId, row.tenantId), eq(settings.userId, row.userId)))
            .get()
          if (current?.etag !== ifMatch) return false
        }
        tx.insert(settings)
          .values(row)
          .onConflictDoUpdate({
            target: [settings.tenantId, settings.userId],
            set: { value: row.value, etag: row.etag },
          })
          .run()
        return true
      })
    },
  }
}
