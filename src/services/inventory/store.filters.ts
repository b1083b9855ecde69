import { and, asc, count, eq } from 'drizzle-orm'
import type { Database, Window } from '../../../db/client.ts'
import { type FilterTerm, savedFilters } from './tables.ts'

export type SavedFilter = { tenantId: string; id: string; name: string; terms: FilterTerm[]; created: Date }

/** Saved filters. Each method is one statement; a name taken by another filter is answered, not thrown. */
export interface SavedFiltersStore {
  /** A page of the tenant's filters by name, and how many it has. */
  list(tenantId: string, window: Window): Promise<{ filters: SavedFilter[]; total: number }>
  /** Adds the filter; false when its name is taken. */
  insert(filter: SavedFilter): Promise<boolean>
  /** One filter, if it exists. */
  find(tenantId: string, id: string): Promise<SavedFilter | undefined>
  /** Replaces name and terms: `missing` when there is no such filter, `conflict` when the name is another's. */
  replace(
    tenantId: string,
    id: string,
    name: string,
    terms: FilterTerm[],
  ): Promise<'ok' | 'missing' | 'conflict'>
  /** Deletes the filter; false when there was none. */
  delete(tenantId: string, id: string): Promise<boolean>
}

const isUniqueViolation = (err: unknown) =>
  String((err as Error)?.message).includes('UNIQUE constraint failed')

export function createSavedFiltersStore(db: Database): SavedFiltersStore {
  const f = savedFilters
  const key = (tenantId: string, id: string) => and(eq(f.tenantId, tenantId), eq(f.id, id))
  return {
    async list(tenantId: string, window: Window) {
      const filters = db
        .select()
        .from(f)
        .where(eq(f.tenantId, tenantId))
        .orderBy(asc(f.name))
        .limit(window.limit)
        .offset(window.offset)
        .all()
      const total = db.select({ n: count() }).from(f).where(eq(f.tenantId, tenantId)).get()?.n ?? 0
      return { filters, total }
    },

    async insert(filter: SavedFilter): Promise<boolean> {
      try {
        db.insert(f).values(filter).run()
        return true
      } catch (err) {
        if (isUniqueViolation(err)) return false
        throw err
      }
    },

    async find(tenantId: string, id: string) {
      return db.select().from(f).where(key(tenantId, id)).get()
    },

    async replace(tenantId: string, id: string, name: string, terms: FilterTerm[]) {
      try {
        const changed = db
          .update(f)
          .set({ name, terms })
          .where(key(tenantId, id))
          .returning({ id: f.id })
          .all()
        return changed.length > 0 ? 'ok' : 'missing'
      } catch (err) {
        if (isUniqueViolation(err)) return 'conflict'
        throw err
      }
    },

    async delete(tenantId: string, id: string): Promise<boolean> {
      return db.delete(f).where(key(tenantId, id)).returning({ id: f.id }).all().length > 0
    },
  }
}
