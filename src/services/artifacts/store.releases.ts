import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { Database, Window } from '../../../db/client.ts'
import type { ArtifactRow } from './model.ts'
import { type TextMatch, textCondition } from './store.ts'
import { artifacts, releases } from './tables.ts'

export type ReleaseRow = typeof releases.$inferSelect & { artifactsCount: number }

export type ReleaseFilter = {
  name?: TextMatch
  /** Any of these names exactly. */
  names?: string[]
  /** Releases with an artifact whose description contains this (case-insensitive). */
  description?: string
  /** Releases with an artifact compatible with exactly this device type. */
  deviceType?: string
  /** Releases with an artifact carrying a payload of exactly this type. */
  updateType?: string
  /** Releases with at least one of these tags. */
  tags?: string[]
}

export const RELEASE_SORT_FIELDS = ['name', 'modified', 'artifacts_count', 'tags'] as const
export type ReleaseSort = { by: (typeof RELEASE_SORT_FIELDS)[number]; order: 'asc' | 'desc' }

/** Whether `fn` holds for some artifact of the release in the current row. */
const anyArtifact = (condition: SQL) =>
  sql`exists (select 1 from ${artifacts} where ${artifacts.tenantId} = ${releases.tenantId} and ${artifacts.name} = ${releases.name} and ${condition})`

// Spelled out with table names: Drizzle leaves columns unqualified in a single-table select list,
// where they would resolve to the subquery's own table.
const artifactsCount = sql<number>`(select count(*) from deployments_artifacts a where a.tenant_id = deployments_releases.tenant_id and a.name = deployments_releases.name)`

function conditions(tenantId: string, filter: ReleaseFilter): SQL[] {
  const where: SQL[] = [eq(releases.tenantId, tenantId)]
  if (filter.name) where.push(textCondition(releases.name, filter.name))
  if (filter.names) where.push(inArray(releases.name, filter.names))
  if (filter.description)
    where.push(anyArtifact(textCondition(artifacts.description, { containsAnyCase: filter.description })))
  if (filter.deviceType) {
    where.push(
      anyArtifact(
        sql`exists (select 1 from json_each(${artifacts.deviceTypes}) where value = ${filter.deviceType})`,
      ),
    )
  }
  if (filter.updateType) {
    where.push(
      anyArtifact(
        sql`exists (select 1 from json_each(${artifacts.updates}) where json_extract(value, '$.type_info.type') = ${filter.updateType})`,
      ),
    )
  }
  if (filter.tags?.length) {
    where.push(sql`exists (select 1 from json_each(${releases.tags}) where value in ${filter.tags})`)
  }
  return where
}

/**
 * The column a release list is sorted by. Tags sort as a list does in Mender's store: by its
 * smallest tag ascending, by its largest descending, untagged releases first ascending.
 */
function sortKey(sort: ReleaseSort): SQL | typeof releases.name {
  switch (sort.by) {
    case 'name':
      return releases.name
    case 'modified':
      return sql`${releases.modified}`
    case 'artifacts_count':
      return artifactsCount
    case 'tags':
      return sort.order === 'asc'
        ? sql`(select min(value) from json_each(deployments_releases.tags))`
        : sql`(select max(value) from json_each(deployments_releases.tags))`
  }
}

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
      const order = sort.order === 'asc' ? asc : desc
      return db
        .select({
          tenantId: releases.tenantId,
          name: releases.name,
          modified: releases.modified,
          tags: releases.tags,
          notes: releases.notes,
          artifactsCount,
        })
        .from(releases)
        .where(and(...conditions(tenantId, filter)))
        .orderBy(order(sortKey(sort)), asc(releases.name))
        .limit(window.limit)
        .offset(window.offset)
        .all()
    },

    countReleases: async (tenantId: string, filter: ReleaseFilter): Promise<number> =>
      db
        .select({ n: count() })
        .from(releases)
        .where(and(...conditions(tenantId, filter)))
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
        .selectDistinct({ tag: sql<string>`value` })
        .from(sql`${releases}, json_each(${releases.tags})`)
        .where(eq(releases.tenantId, tenantId))
        .orderBy(sql`value`)
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
          .from(sql`${releases}, json_each(${releases.tags})`)
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
        .selectDistinct({ type: sql<string>`json_extract(value, '$.type_info.type')` })
        .from(sql`${artifacts}, json_each(${artifacts.updates})`)
        .where(
          and(eq(artifacts.tenantId, tenantId), sql`json_extract(value, '$.type_info.type') is not null`),
        )
        .orderBy(sql`1`)
        .all()
        .map((row) => row.type),
  }
}
