import { and, asc, count, eq, inArray, sql } from 'drizzle-orm'
import type { Database, Window } from '../../../db/client.ts'
import type { ArtifactRow } from './model.ts'
import { artifactQueries, type ReleaseFilter, type ReleaseSort, sqliteDialect } from './store.queries.ts'
import { artifactDepends, artifacts, releases } from './tables.ts'

export type ReleaseRow = typeof releases.$inferSelect & { artifactsCount: number }

export type { ReleaseFilter, ReleaseSort } from './store.queries.ts'
export { RELEASE_SORT_FIELDS } from './store.queries.ts'

const queries = artifactQueries(sqliteDialect, { artifacts, releases, artifactDepends })

/** Releases (one per artifact name) with their notes and tags. */
export interface ReleasesStore {
  /** A page of the releases matching `filter`, sorted. */
  listReleases(
    tenantId: string,
    filter: ReleaseFilter,
    sort: ReleaseSort,
    window: Window,
  ): Promise<ReleaseRow[]>
  /** How many releases match `filter`. */
  countReleases(tenantId: string, filter: ReleaseFilter): Promise<number>
  /** The artifacts of these releases, each release's in upload order. */
  artifactsOf(tenantId: string, names: string[]): Promise<ArtifactRow[]>
  /** Every tag in use, sorted. */
  listTags(tenantId: string): Promise<string[]>
  /**
   * Replaces a release's tags unless that would make more than `maxUnique` distinct tags in use;
   * 'missing' when there is no such release.
   */
  replaceTags(
    tenantId: string,
    name: string,
    tags: string[],
    maxUnique: number,
  ): Promise<'ok' | 'missing' | 'too-many'>
  /** Sets a release's notes; false when there is no such release. */
  updateNotes(tenantId: string, name: string, notes: string): Promise<boolean>
  /** Every payload type of the tenant's artifacts, sorted. */
  listUpdateTypes(tenantId: string): Promise<string[]>
}

export function createReleasesStore(db: Database): ReleasesStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  return {
    async listReleases(
      tenantId: string,
      filter: ReleaseFilter,
      sort: ReleaseSort,
      window: Window,
    ): Promise<ReleaseRow[]> {
      return db
        .select(queries.releaseColumns)
        .from(releases)
        .where(and(...queries.releaseConditions(tenantId, filter)))
        .orderBy(...queries.releaseOrder(sort))
        .limit(window.limit)
        .offset(window.offset)
        .all()
    },

    countReleases: async (tenantId: string, filter: ReleaseFilter): Promise<number> =>
      db
        .select({ n: count() })
        .from(releases)
        .where(and(...queries.releaseConditions(tenantId, filter)))
        .get()?.n ?? 0,

    /** The artifacts of these releases, each release's in upload order. */
    artifactsOf: async (tenantId: string, names: string[]): Promise<ArtifactRow[]> =>
      names.length === 0
        ? []
        : db
            .select()
            .from(artifacts)
            .where(and(eq(artifacts.tenantId, tenantId), inArray(artifacts.name, names)))
            .orderBy(asc(sql`rowid`))
            .all(),

    /** Every tag in use, sorted. */
    listTags: async (tenantId: string): Promise<string[]> =>
      db
        .selectDistinct({ tag: sql<string>`${queries.tagKey}` })
        .from(queries.releaseTags)
        .where(eq(releases.tenantId, tenantId))
        .orderBy(sql`1`)
        .all()
        .map((row) => row.tag),

    /**
     * Replaces a release's tags unless that would make more than `maxUnique` distinct tags in use;
     * 'missing' when there is no such release.
     */
    async replaceTags(
      tenantId: string,
      name: string,
      tags: string[],
      maxUnique: number,
    ): Promise<'ok' | 'missing' | 'too-many'> {
      return db.transaction((tx) => {
        const where = and(eq(releases.tenantId, tenantId), eq(releases.name, name))
        if (!tx.select({ name: releases.name }).from(releases).where(where).get()) return 'missing'
        const others = tx
          .selectDistinct({ tag: sql<string>`value` })
          .from(queries.releaseTags)
          .where(and(eq(releases.tenantId, tenantId), sql`${releases.name} <> ${name}`))
          .all()
        if (new Set([...others.map((row) => row.tag), ...tags]).size > maxUnique) return 'too-many'
        tx.update(releases).set({ tags }).where(where).run()
        return 'ok'
      })
    },

    /** Sets a release's notes; false when there is no such release. */
    updateNotes: async (tenantId: string, name: string, notes: string): Promise<boolean> =>
      db
        .update(releases)
        .set({ notes })
        .where(and(eq(releases.tenantId, tenantId), eq(releases.name, name)))
        .returning({ name: releases.name })
        .get() !== undefined,

    /** Every payload type of the tenant's artifacts, sorted. */
    listUpdateTypes: async (tenantId: string): Promise<string[]> =>
      db
        .selectDistinct({ type: sql<string>`${queries.updateTypeKey}` })
        .from(queries.artifactUpdates)
        .where(and(eq(artifacts.tenantId, tenantId), sql`${queries.updateTypeKey} is not null`))
        .orderBy(sql`1`)
        .all()
        .map((row) => row.type),
  }
}
