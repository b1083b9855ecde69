import {
  and,
  asc,
  count,
  desc,
  eq,
  getTableColumns,
  isNotNull,
  isNull,
  ne,
  notInArray,
  sql,
} from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { type SettingsRow, type TokenRow, type UseradmStore, userFilterWhere } from './store.ts'
import { settings, users, userTokens } from './tables.pg.ts'

/** A token row as the SQLite side shapes it: the insertion order stays inside the store. */
const { rowid: _rowid, ...tokenColumns } = getTableColumns(userTokens)

/** useradm's store on PostgreSQL (see store.ts for what each method promises). */
export function createPgUseradmStore(db: PgDatabase): UseradmStore {
  const ph = sql.placeholder
  // Prepared: every authenticated management request on every instance runs it.
  const tokenById = db
    .select({
      id: userTokens.id,
      userId: userTokens.userId,
      lastUsedTs: userTokens.lastUsedTs,
      name: userTokens.name,
    })
    .from(userTokens)
    .where(eq(userTokens.id, ph('id')))
    .prepare('useradm_token_by_id')
  const userWhere = (tenantId: string, id: string) => and(eq(users.tenantId, tenantId), eq(users.id, id))
  const settingsWhere = (tenantId: string, userId: string) =>
    and(eq(settings.tenantId, tenantId), eq(settings.userId, userId))
  const first = <T>(rows: T[]): T | undefined => rows[0]

  return {
    findUserById: async (tenantId, id) => first(await db.select().from(users).where(userWhere(tenantId, id))),

    findUserByEmail: async (tenantId, email) =>
      first(
        await db
          .select()
          .from(users)
          .where(and(eq(users.tenantId, tenantId), eq(users.email, email))),
      ),

    listUsers: (tenantId, filter) =>
      db
        .select()
        .from(users)
        .where(and(...userFilterWhere(users, tenantId, filter)))
        .orderBy(asc(users.email)),

    countUsers: async (tenantId) =>
      (await db.select({ n: count() }).from(users).where(eq(users.tenantId, tenantId)))[0]?.n ?? 0,

    async insertUser(row) {
      await db.insert(users).values(row)
    },

    async updateUser(id, patch) {
      await db.update(users).set(patch).where(eq(users.id, id))
    },

    async deleteUser(tenantId, id) {
      await db.transaction(async (tx) => {
        await tx.delete(users).where(userWhere(tenantId, id))
        await tx.delete(settings).where(settingsWhere(tenantId, id))
      })
    },

    findTokenById: async (id) => (await tokenById.execute({ id }))[0],

    async insertToken(row: TokenRow) {
      await db.insert(userTokens).values(row)
    },

    async deleteToken(tenantId, userId, id) {
      await db
        .delete(userTokens)
        .where(and(eq(userTokens.tenantId, tenantId), eq(userTokens.userId, userId), eq(userTokens.id, id)))
    },

    async deleteUserTokens(userId, keepId) {
      const where = [eq(userTokens.userId, userId)]
      if (keepId) where.push(ne(userTokens.id, keepId))
      await db.delete(userTokens).where(and(...where))
    },

    async pruneSessions(userId, keep) {
      const sessions = and(eq(userTokens.userId, userId), isNull(userTokens.name))
      const newest = db
        .select({ id: userTokens.id })
        .from(userTokens)
        .where(sessions)
        .orderBy(desc(userTokens.createdTs), desc(userTokens.rowid))
        .limit(keep)
      await db.delete(userTokens).where(and(sessions, notInArray(userTokens.id, newest)))
    },

    listPersonalTokens: (tenantId, userId) =>
      db
        .select(tokenColumns)
        .from(userTokens)
        .where(
          and(eq(userTokens.tenantId, tenantId), eq(userTokens.userId, userId), isNotNull(userTokens.name)),
        )
        .orderBy(asc(userTokens.createdTs), asc(userTokens.rowid)),

    countPersonalTokens: async (userId) =>
      (
        await db
          .select({ n: count() })
          .from(userTokens)
          .where(and(eq(userTokens.userId, userId), isNotNull(userTokens.name)))
      )[0]?.n ?? 0,

    async touchToken(id, at) {
      await db.update(userTokens).set({ lastUsedTs: at }).where(eq(userTokens.id, id))
    },

    findSettings: async (tenantId, userId) =>
      first(await db.select().from(settings).where(settingsWhere(tenantId, userId))),

    async saveSettings(row: SettingsRow, ifMatch) {
      if (ifMatch === undefined) {
        await db
          .insert(settings)
          .values(row)
          .onConflictDoUpdate({
            target: [settings.tenantId, settings.userId],
            set: { value: row.value, etag: row.etag },
          })
        return true
      }
      // One conditional statement: two instances saving against the same etag cannot both win.
      const saved = await db
        .update(settings)
        .set({ value: row.value, etag: row.etag })
        .where(and(settingsWhere(row.tenantId, row.userId), eq(settings.etag, ifMatch)))
        .returning({ etag: settings.etag })
      return saved.length > 0
    },
  }
}
