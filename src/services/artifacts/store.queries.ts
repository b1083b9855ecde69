import { and, type Column, eq, inArray, type SQL, sql, type Table } from 'drizzle-orm'

/**
 * The artifacts' and releases' filters and sort keys, built once for both engines: each store
 * hands in its own tables and the few SQL spellings that differ (a `Dialect`), so SQLite and
 * PostgreSQL answer a listing with the same rows in the same order.
 */

/** How a text column is matched; `AnyCase` ignores ASCII case (as SQLite's lower() does). */
export type TextMatch =
  | { equals: string }
  | { startsWith: string }
  | { containsAnyCase: string }
  | { startsWithAnyCase: string }

export type ArtifactFilter = {
  name?: TextMatch
  /** Any of these names exactly. */
  names?: string[]
  description?: TextMatch
  /** Matched against each compatible device type. */
  deviceType?: TextMatch
}

export type ArtifactSort = { by: 'name' | 'modified'; order: 'asc' | 'desc' }

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

type Operand = SQL | Column

/** The SQL spellings that differ between the engines; every other part of a query is shared. */
export type Dialect = {
  /** A FROM item: the elements of a JSON array of strings, as text in a column named `value`. */
  strings(json: Operand): SQL
  /** A FROM item: the elements of a JSON array, as JSON in a column named `value`. */
  elements(json: Operand): SQL
  /** The payload type (`type_info.type`) of a JSON update object, as text; NULL when absent. */
  updateType(update: SQL): SQL
  /** Lower-cases ASCII letters only, leaving every other character as it is (SQLite's lower()). */
  lowerAscii(value: Operand): SQL
  /** Where `needle` first occurs in `haystack`, from 1; 0 when it does not. */
  position(haystack: SQL, needle: SQL): SQL
  /** Text compared by code point (SQLite's BINARY collation), whatever the database's collation. */
  binary(value: Operand): SQL
  /** An ORDER BY term with NULL before every value ascending and after every value descending (SQLite's rule). */
  order(key: Operand, order: 'asc' | 'desc'): SQL
}

export const sqliteDialect: Dialect = {
  strings: (json) => sql`json_each(${json})`,
  elements: (json) => sql`json_each(${json})`,
  updateType: (update) => sql`json_extract(${update}, '$.type_info.type')`,
  lowerAscii: (value) => sql`lower(${value})`,
  position: (haystack, needle) => sql`instr(${haystack}, ${needle})`,
  binary: (value) => sql`${value}`,
  order: (key, order) => (order === 'asc' ? sql`${key} asc` : sql`${key} desc`),
}

export const pgDialect: Dialect = {
  strings: (json) => sql`json_array_elements_text(${json}) as elements(value)`,
  elements: (json) => sql`json_array_elements(${json}) as elements(value)`,
  updateType: (update) => sql`(${update} -> 'type_info' ->> 'type')`,
  // lower() under the "C" collation folds ASCII only, as SQLite's does; a linguistic collation would fold É too.
  lowerAscii: (value) => sql`lower(${value} collate "C")`,
  position: (haystack, needle) => sql`strpos(${haystack}, ${needle})`,
  binary: (value) => sql`(${value} collate "C")`,
  order: (key, order) => (order === 'asc' ? sql`${key} asc nulls first` : sql`${key} desc nulls last`),
}

/** The tables the queries read, with the columns they name: the same on both engines. */
export type ArtifactsTable = Table & {
  id: Column
  tenantId: Column
  name: Column
  description: Column
  deviceTypes: Column
  updates: Column
  modified: Column
}
export type ReleasesTable = Table & {
  tenantId: Column
  name: Column
  modified: Column
  tags: Column
  notes: Column
}
export type DependsTable = Table & { tenantId: Column; name: Column; combination: Column }

/** The rows claiming an artifact's depends combinations (encoded), for the unique index to judge. */
export const dependsRows = (artifact: { id: string; tenantId: string; name: string }, encoded: string[]) =>
  encoded.map((combination) => ({
    tenantId: artifact.tenantId,
    name: artifact.name,
    combination,
    artifactId: artifact.id,
  }))

/** The filters and sort keys of artifact and release listings, in one engine's SQL. */
export function artifactQueries<R extends ReleasesTable>(
  dialect: Dialect,
  tables: { artifacts: ArtifactsTable; releases: R; artifactDepends: DependsTable },
) {
  const { artifacts, releases, artifactDepends } = tables
  const d = dialect

  function textCondition(column: Operand, match: TextMatch): SQL {
    if ('equals' in match) return sql`${column} = ${match.equals}`
    if ('startsWith' in match)
      return sql`substr(${column}, 1, length(${match.startsWith})) = ${match.startsWith}`
    const haystack = d.lowerAscii(column)
    if ('containsAnyCase' in match)
      return sql`${d.position(haystack, d.lowerAscii(sql`${match.containsAnyCase}`))} > 0`
    return sql`${d.position(haystack, d.lowerAscii(sql`${match.startsWithAnyCase}`))} = 1`
  }

  /** Whether `condition` holds for some artifact of the release in the current row. */
  const anyArtifact = (condition: SQL) =>
    sql`exists (select 1 from ${artifacts} where ${artifacts.tenantId} = ${releases.tenantId} and ${artifacts.name} = ${releases.name} and ${condition})`

  // Spelled out with table names: Drizzle leaves columns unqualified in a single-table select list,
  // where they would resolve to the subquery's own table.
  const artifactsCount =
    sql<number>`(select count(*) from deployments_artifacts a where a.tenant_id = deployments_releases.tenant_id and a.name = deployments_releases.name)`.mapWith(
      Number,
    )

  return {
    textCondition,
    artifactsCount,

    /** The select list of a release listing (a `ReleaseRow`). */
    releaseColumns: {
      // Typed as the engine's own columns (property access on R would widen them to Column).
      tenantId: releases.tenantId as R['tenantId'],
      name: releases.name as R['name'],
      modified: releases.modified as R['modified'],
      tags: releases.tags as R['tags'],
      notes: releases.notes as R['notes'],
      artifactsCount,
    },

    /** Depends rows of `name` claiming one of these (encoded) combinations. */
    claimed: (tenantId: string, name: string, encoded: string[]) =>
      and(
        eq(artifactDepends.tenantId, tenantId),
        eq(artifactDepends.name, name),
        inArray(artifactDepends.combination, encoded),
      ),

    artifactConditions(tenantId: string, filter: ArtifactFilter): SQL[] {
      const where: SQL[] = [eq(artifacts.tenantId, tenantId)]
      if (filter.names) where.push(inArray(artifacts.name, filter.names))
      if (filter.name) where.push(textCondition(artifacts.name, filter.name))
      if (filter.description) where.push(textCondition(artifacts.description, filter.description))
      if (filter.deviceType) {
        const matches = textCondition(sql`value`, filter.deviceType)
        where.push(sql`exists (select 1 from ${d.strings(artifacts.deviceTypes)} where ${matches})`)
      }
      return where
    },

    /** ORDER BY terms of an artifact listing: the sort, then the id so pages never overlap. */
    artifactOrder(sort: ArtifactSort): SQL[] {
      const key = sort.by === 'name' ? d.binary(artifacts.name) : artifacts.modified
      return [d.order(key, sort.order), d.order(d.binary(artifacts.id), sort.order)]
    },

    releaseConditions(tenantId: string, filter: ReleaseFilter): SQL[] {
      const where: SQL[] = [eq(releases.tenantId, tenantId)]
      if (filter.name) where.push(textCondition(releases.name, filter.name))
      if (filter.names) where.push(inArray(releases.name, filter.names))
      if (filter.description)
        where.push(anyArtifact(textCondition(artifacts.description, { containsAnyCase: filter.description })))
      if (filter.deviceType) {
        const types = d.strings(artifacts.deviceTypes)
        where.push(anyArtifact(sql`exists (select 1 from ${types} where value = ${filter.deviceType})`))
      }
      if (filter.updateType) {
        const updates = d.elements(artifacts.updates)
        where.push(
          anyArtifact(
            sql`exists (select 1 from ${updates} where ${d.updateType(sql`value`)} = ${filter.updateType})`,
          ),
        )
      }
      if (filter.tags?.length) {
        where.push(
          sql`exists (select 1 from ${d.strings(releases.tags)} where ${inArray(sql`value`, filter.tags)})`,
        )
      }
      return where
    },

    /**
     * ORDER BY terms of a release listing, then the name. Tags sort as a list does in Mender's
     * store: by its smallest tag ascending, by its largest descending, untagged releases first
     * ascending.
     */
    releaseOrder(sort: ReleaseSort): SQL[] {
      const tags = d.strings(sql`deployments_releases.tags`)
      const key =
        sort.by === 'name'
          ? d.binary(releases.name)
          : sort.by === 'modified'
            ? sql`${releases.modified}`
            : sort.by === 'artifacts_count'
              ? artifactsCount
              : sort.order === 'asc'
                ? sql`(select min(${d.binary(sql`value`)}) from ${tags})`
                : sql`(select max(${d.binary(sql`value`)}) from ${tags})`
      return [d.order(key, sort.order), d.order(d.binary(releases.name), 'asc')]
    },

    /** FROM items: each release with each of its tags (`value`), each artifact with each of its payloads (`value`). */
    releaseTags: sql`${releases}, ${d.strings(releases.tags)}`,
    artifactUpdates: sql`${artifacts}, ${d.elements(artifacts.updates)}`,
    /** A tag in code point order, for sorting. */
    tagKey: d.binary(sql`value`),
    /** The payload type of the current `value` of `artifactUpdates`, in code point order for sorting. */
    updateTypeKey: d.binary(d.updateType(sql`value`)),
  }
}
