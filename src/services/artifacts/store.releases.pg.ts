import { and, asc, count, eq, inArray, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { uploadOrder } from './store.pg.ts'
import { artifactQueries, pgDialect } from './store.queries.ts'
import type { ReleasesStore } from './store.releases.ts'
import { artifactDepends, artifacts, releases } from './tables.pg.ts'

const queries = artifactQueries(pgDialect, { artifacts, releases, artifactDepends })

/** The first key of the transaction-scoped advisory lock on a tenant's tags ("tags" in ASCII). */
const TAGS_LOCK = 0x74616773

/** The releases store on PostgreSQL (see store.releases.ts for what each method promises). */
export function createPgReleasesStore(db: PgDatabase): ReleasesStore {
  const releaseWhere = (tenantId: string, name: string) =>
    and(eq(releases.tenantId, tenantId), eq(releases.name, name))

  return {
    listReleases: (tenantId, filter, sort, window) =>
      db
        .select(queries.releaseColumns)
        .from(releases)
        .where(and(...queries.releaseConditions(tenantId, filter)))
        .orderBy(...queries.releaseOrder(sort))
        .limit(window.limit)
        .offset(window.offset),

    async countReleases(tenantId, filter) {
      const [row] = await db
        .select({ n: count() })
        .from(releases)
        .where(and(...queries.releaseConditions(tenantId, filter)))
      return row?.n ?? 0
    },

    artifactsOf: async (tenantId, names) =>
      names.length === 0
        ? []
        : db
            .select()
            .from(artifacts)
            .where(and(eq(artifacts.tenantId, tenantId), inArray(artifacts.name, names)))
            .orderBy(asc(uploadOrder)),

    listTags: async (tenantId) =>
      (
        await db
          .selectDistinct({ tag: sql<string>`${queries.tagKey}` })
          .from(queries.releaseTags)
          .where(eq(releases.tenantId, tenantId))
          .orderBy(sql`1`)
      ).map((row) => row.tag),

    replaceTags: (tenantId, name, tags, maxUnique) =>
      db.transaction(async (tx) => {
        // One writer of a tenant's tags at a time, or two could each stay under the bound and together pass it.
        await tx.execute(sql`SELECT pg_advisory_xact_lock(${TAGS_LOCK}, ${Bun.hash.crc32(tenantId) | 0})`)
        const [found] = await tx
          .select({ name: releases.name })
          .from(releases)
          .where(releaseWhere(tenantId, name))
        if (!found) return 'missing'
        const others = await tx
          .selectDistinct({ tag: sql<string>`value` })
          .from(queries.releaseTags)
          .where(and(eq(releases.tenantId, tenantId), sql`${releases.name} <> ${name}`))
        if (new Set([...others.map((row) => row.tag), ...tags]).size > maxUnique) return 'too-many'
        await tx.update(releases).set({ tags }).where(releaseWhere(tenantId, name))
        return 'ok'
      }),

    updateNotes: async (tenantId, name, notes) =>
      (
        await db
          .update(releases)
          .set({ notes })
          .where(releaseWhere(tenantId, name))
          .returning({ name: releases.name })
      ).length > 0,

    listUpdateTypes: async (tenantId) =>
      (
        await db
          .selectDistinct({ type: sql<string>`${queries.updateTypeKey}` })
          .from(queries.artifactUpdates)
          .where(and(eq(artifacts.tenantId, tenantId), sql`${queries.updateTypeKey} is not null`))
          .orderBy(sql`1`)
      ).map((row) => row.type),
  }
}
