import { and, count, eq, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import type { SavedFiltersStore } from './store.filters.ts'
import { savedFilters as f } from './tables.pg.ts'

/** A unique index refused the row (PostgreSQL's SQLSTATE 23505), whichever way the driver wraps it. */
const isUniqueViolation = (err: unknown): boolean => {
  const e = err as { code?: unknown; errno?: unknown; cause?: unknown } | undefined
  if (e?.errno === '23505' || e?.code === '23505') return true
  return e?.cause !== undefined && isUniqueViolation(e.cause)
}

/** Saved filters on PostgreSQL (see store.filters.ts for what each method promises). */
export function createPgSavedFiltersStore(db: PgDatabase): SavedFiltersStore {
  const key = (tenantId: string, id: string) => and(eq(f.tenantId, tenantId), eq(f.id, id))
  return {
    async list(tenantId, window) {
      const filters = await db
        .select()
        .from(f)
        .where(eq(f.tenantId, tenantId))
        // Byte order, as SQLite sorts text.
        .orderBy(sql`${f.name} COLLATE "C"`)
        .limit(window.limit)
        .offset(window.offset)
      const [total] = await db.select({ n: count() }).from(f).where(eq(f.tenantId, tenantId))
      return { filters, total: total?.n ?? 0 }
    },

    async insert(filter) {
      try {
        await db.insert(f).values(filter)
        return true
      } catch (err) {
        if (isUniqueViolation(err)) return false
        throw err
      }
    },

    find: async (tenantId, id) => (await db.select().from(f).where(key(tenantId, id)))[0],

    async replace(tenantId, id, name, terms) {
      try {
        const changed = await db
          .update(f)
          .set({ name, terms })
          .where(key(tenantId, id))
          .returning({ id: f.id })
        return changed.length > 0 ? 'ok' : 'missing'
      } catch (err) {
        if (isUniqueViolation(err)) return 'conflict'
        throw err
      }
    },

    delete: async (tenantId, id) =>
      (await db.delete(f).where(key(tenantId, id)).returning({ id: f.id })).length > 0,
  }
}
