import { and, eq, inArray, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { attributeNames } from './tables.ts'

export type NameRow = { id: number; scope: string; name: string; arrays: boolean }

/**
 * The device id, kept as a hidden attribute (a scope no request can name) so that `identity/id`
 * filters, sorts and counts through the same index as every other attribute.
 */
export const DEVICE_ID = { scope: '', name: 'id' } as const

const p = (name: string) => sql.placeholder(name)

/**
 * Names are cached per process. A name created inside a transaction is cached only once that
 * transaction is ours and has committed; while another service's transaction is open (deviceauth
 * calling in), nothing read or created is cached, since that transaction may still roll back.
 */
/** Attribute names by (tenant, scope, name) and by id, cached; the cache follows commits and rollbacks. */
export interface NameCache {
  /** The name's row, if the tenant has used it. */
  find(tenantId: string, scope: string, name: string): NameRow | undefined
  /** The name's row, created when new. */
  ensure(tenantId: string, scope: string, name: string): NameRow
  /** Rows of these ids (unknown ids are left out). */
  names(ids: Iterable<number>): Map<number, NameRow>
  /** Drops a name from the cache (its row was deleted), including one created in this transaction. */
  forget(tenantId: string, id: number): void
  /** A write begins (`outer`: not nested in another): names made from now on are cached only if it commits. */
  begin(outer: boolean): void
  /** The outermost write ended: keeps or forgets the names it made. */
  end(committed: boolean): void
}

/** The prepared lookup of one name by (tenant, scope, name). */
export function prepareNameQuery(db: Database) {
  return db
    .select()
    .from(attributeNames)
    .where(
      and(
        eq(attributeNames.tenantId, p('tenantId')),
        eq(attributeNames.scope, p('scope')),
        eq(attributeNames.name, p('name')),
      ),
    )
    .prepare()
}

/**
 * Rows of these ids: those in `cache` from it, the rest read in one query and added to it when
 * `remember` (unknown ids are left out).
 */
export function namesById(
  db: Database,
  cache: Map<number, NameRow>,
  ids: Iterable<number>,
  remember: boolean,
): Map<number, NameRow> {
  const out = new Map<number, NameRow>()
  const missing: number[] = []
  for (const id of ids) {
    const row = cache.get(id)
    if (row) out.set(id, row)
    else missing.push(id)
  }
  if (missing.length > 0) {
    for (const row of db.select().from(attributeNames).where(inArray(attributeNames.id, missing)).all()) {
      out.set(row.id, row)
      if (remember) cache.set(row.id, row)
    }
  }
  return out
}

export function createNameCache(db: Database): NameCache {
  const byKey = new Map<string, NameRow>()
  const byId = new Map<number, NameRow>()
  let pending: { tenantId: string; row: NameRow }[] = []
  let caching = true
  const key = (tenantId: string, scope: string, name: string) => `${tenantId}\u0000${scope}\u0000${name}`

  const select = preparedOnFirstUse(() => prepareNameQuery(db))
  const insert = preparedOnFirstUse(() =>
    db
      .insert(attributeNames)
      .values({ tenantId: p('tenantId'), scope: p('scope'), name: p('name') })
      .onConflictDoNothing()
      .returning()
      .prepare(),
  )

  const remember = (tenantId: string, row: NameRow) => {
    byKey.set(key(tenantId, row.scope, row.name), row)
    byId.set(row.id, row)
  }

  function find(tenantId: string, scope: string, name: string): NameRow | undefined {
    const cached = byKey.get(key(tenantId, scope, name))
    if (cached) return cached
    const row = select.get({ tenantId, scope, name })
    if (row && caching) remember(tenantId, row)
    return row
  }

  return {
    find,
    ensure(tenantId: string, scope: string, name: string): NameRow {
      const found = find(tenantId, scope, name)
      if (found) return found
      const row = insert.get({ tenantId, scope, name })!
      pending.push({ tenantId, row })
      return row
    },
    names: (ids: Iterable<number>): Map<number, NameRow> => namesById(db, byId, ids, caching),
    forget(tenantId: string, id: number) {
      const row = byId.get(id) ?? pending.find((entry) => entry.row.id === id)?.row
      byId.delete(id)
      pending = pending.filter((entry) => entry.row.id !== id)
      if (row) byKey.delete(key(tenantId, row.scope, row.name))
    },
    begin(outer: boolean) {
      caching = !outer
    },
    end(committed: boolean) {
      if (committed && caching) for (const { tenantId, row } of pending) remember(tenantId, row)
      pending = []
      caching = true
    },
  }
}
