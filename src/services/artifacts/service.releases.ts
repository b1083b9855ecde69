import type { Deps } from '../../deps.ts'
import { BadRequestError, ConflictError, NotFoundError } from '../../gateway/errors.ts'
import { type Paging, pageOffset, parsePaging } from '../../gateway/paging.ts'
import type { ApiRelease, ApiReleaseV1, ApiSoftware } from './model.releases.ts'
import { type ApiArtifact, artifactBlobKey, toApiArtifact } from './model.ts'
import { lenientPaging, type PageQuery } from './queries.ts'
import type { DeploymentUsage } from './service.ts'
import {
  RELEASE_SORT_FIELDS,
  type ReleaseFilter,
  type ReleaseRow,
  type ReleaseSort,
} from './store.releases.ts'

/** Mender's limits on release tags and notes. */
const MAX_TAGS_PER_RELEASE = 20
const MAX_UNIQUE_TAGS = 100
const MAX_NOTES_LENGTH = 1024
const TAG = /^[A-Za-z0-9_.-]+$/
/** Go's unicode.IsGraphic: letters, marks, numbers, punctuation, symbols and spaces. */
const NOT_GRAPHIC = /[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u

/** `name:asc` and the like; anything else is the default. */
function parseReleaseSort(value: string | undefined): ReleaseSort {
  const [by, order] = (value ?? '').split(':')
  if ((RELEASE_SORT_FIELDS as readonly string[]).includes(by ?? '')) {
    return { by: by as ReleaseSort['by'], order: order === 'desc' ? 'desc' : 'asc' }
  }
  return { by: 'name', order: 'asc' }
}

/** Tags as Mender stores them: lower-cased, deduplicated, each checked. */
function normalizeTags(tags: readonly string[]): string[] {
  const unique = [...new Set(tags.map((tag) => tag.toLowerCase()))]
  if (unique.length > MAX_TAGS_PER_RELEASE) {
    throw new BadRequestError(
      `invalid request body: the total number of tags per exceeded maximum of ${MAX_TAGS_PER_RELEASE}`,
    )
  }
  for (const tag of unique) {
    if (tag === '') throw new BadRequestError('invalid request body: tag cannot be empty')
    if (!TAG.test(tag)) {
      const bad = /[^A-Za-z0-9_.-]/.exec(tag)?.[0]
      throw new BadRequestError(`invalid request body: invalid character '${bad}' in string "${tag}"`)
    }
  }
  return unique
}

function checkNotes(notes: string): void {
  if (Buffer.byteLength(notes) > MAX_NOTES_LENGTH) {
    throw new BadRequestError('invalid request body: release notes too long')
  }
  const bad = NOT_GRAPHIC.exec(notes)
  if (bad) {
    throw new BadRequestError(
      `invalid request body: invalid character ${JSON.stringify(bad[0])} at offset ${bad.index}`,
    )
  }
}

export type ReleaseListing = { releases: ApiRelease[]; total: number; paging: Paging }

export type ReleasesV1Query = {
  name?: string
  description?: string
  device_type?: string
  update_type?: string
}
export type ReleasesV2Query = PageQuery & {
  name?: string
  tag?: string[]
  update_type?: string
  sort?: string
}
export type SoftwareQuery = {
  name?: string[]
  name_prefix?: string
  kind?: string
  tag?: string[]
  update_type?: string
  sort?: string
  page?: number
  per_page?: number
}

const SOFTWARE_KINDS = ['release', 'manifest']
const SOFTWARE_SORTS = ['modified:asc', 'modified:desc', 'name:asc', 'name:desc', 'tags:asc', 'tags:desc']

/** Mender's "software" listing. */
export type SoftwareListing = { software: ApiSoftware[]; total: number; paging: Paging }

/** Releases: the artifacts of one name, with their notes and tags; Mender's "software" view of them. */
export interface ReleasesService {
  /**
   * v1 without paging. Mender's store still caps it at its default page (the first 20 by name);
   * bender keeps that bound.
   */
  listReleasesV1(tenantId: string, query: ReleasesV1Query): Promise<ApiRelease[]>
  /** v1 `/releases/list`: sorted and leniently paged. */
  listReleasesPage(
    tenantId: string,
    query: ReleasesV1Query & PageQuery & { sort?: string },
  ): Promise<ReleaseListing>
  /** v2: name substring, any of the tags, payload type; sorted and leniently paged. */
  listReleasesV2(tenantId: string, query: ReleasesV2Query): Promise<ReleaseListing>
  /** One release with its artifacts; 404 when no artifact has that name. */
  getRelease(tenantId: string, name: string): Promise<ApiRelease>
  /** Replaces the release's notes (printable, at most 1024 bytes). */
  updateNotes(tenantId: string, name: string, notes: string): Promise<void>
  /** Replaces the release's tags (lower-cased; 409 past 100 distinct tags in the tenant). */
  replaceTags(tenantId: string, name: string, tags: readonly string[]): Promise<void>
  /** Every tag in use, sorted. */
  listTags(tenantId: string): Promise<string[]>
  /** Every payload type of the tenant's artifacts, sorted. */
  listUpdateTypes(tenantId: string): Promise<string[]>
  /** Deletes every artifact of these releases (and their files), unless an active deployment uses one. */
  deleteReleases(tenantId: string, names: string[]): Promise<void>
  /**
   * Mender's "software" view of releases (v1alpha1). bender has releases only, no manifests: a
   * `manifest` filter finds nothing.
   */
  listSoftware(tenantId: string, query: SoftwareQuery): Promise<SoftwareListing>
  /** Tags of the tenant's software; `kind` (at most one) narrows it to releases or manifests. */
  listSoftwareTags(tenantId: string, kinds: readonly string[]): Promise<string[]>
}

export function createReleasesService(deps: Deps, services: { usage: DeploymentUsage }): ReleasesService {
  // Long as a whole: one closure over the dependencies its methods share; each method is short.
  const store = deps.stores.releases
  const artifactsStore = deps.stores.artifacts
  const { usage } = services

  async function withArtifacts(tenantId: string, rows: ReleaseRow[]): Promise<ApiRelease[]> {
    const byName = new Map<string, ApiArtifact[]>(rows.map((row) => [row.name, []]))
    for (const artifact of await store.artifactsOf(tenantId, [...byName.keys()])) {
      byName.get(artifact.name)?.push(toApiArtifact(artifact))
    }
    return rows.map((row) => ({
      name: row.name,
      modified: row.modified.toISOString(),
      tags: row.tags,
      notes: row.notes,
      artifacts: byName.get(row.name) ?? [],
      artifacts_count: row.artifactsCount,
    }))
  }

  async function list(
    tenantId: string,
    filter: ReleaseFilter,
    sort: ReleaseSort,
    paging: Paging,
  ): Promise<ReleaseListing> {
    const rows = await store.listReleases(tenantId, filter, sort, {
      offset: pageOffset(paging),
      limit: paging.perPage,
    })
    return {
      releases: await withArtifacts(tenantId, rows),
      total: await store.countReleases(tenantId, filter),
      paging,
    }
  }

  const v1Filter = (query: ReleasesV1Query): ReleaseFilter => ({
    name: query.name ? { containsAnyCase: query.name } : undefined,
    description: query.description || undefined,
    deviceType: query.device_type || undefined,
    updateType: query.update_type || undefined,
  })

  return {
    listReleasesV1: async (tenantId: string, query: ReleasesV1Query): Promise<ApiRelease[]> =>
      (await list(tenantId, v1Filter(query), parseReleaseSort(undefined), { page: 1, perPage: 20 })).releases,

    listReleasesPage: (tenantId: string, query: ReleasesV1Query & PageQuery & { sort?: string }) =>
      list(tenantId, v1Filter(query), parseReleaseSort(query.sort), lenientPaging(query)),

    listReleasesV2: (tenantId: string, query: ReleasesV2Query) =>
      list(
        tenantId,
        {
          name: query.name ? { containsAnyCase: query.name } : undefined,
          tags: query.tag?.map((tag) => tag.toLowerCase()),
          updateType: query.update_type || undefined,
        },
        parseReleaseSort(query.sort),
        lenientPaging(query),
      ),

    async getRelease(tenantId: string, name: string): Promise<ApiRelease> {
      const [release] = await withArtifacts(
        tenantId,
        await store.listReleases(tenantId, { names: [name] }, parseReleaseSort(undefined), {
          offset: 0,
          limit: 1,
        }),
      )
      if (!release) throw new NotFoundError('release not found')
      return release
    },

    async updateNotes(tenantId: string, name: string, notes: string): Promise<void> {
      checkNotes(notes)
      if (!(await store.updateNotes(tenantId, name, notes))) throw new NotFoundError('release not found')
    },

    async replaceTags(tenantId: string, name: string, tags: readonly string[]): Promise<void> {
      const result = await store.replaceTags(tenantId, name, normalizeTags(tags), MAX_UNIQUE_TAGS)
      if (result === 'missing') throw new NotFoundError('release not found')
      if (result === 'too-many') {
        throw new ConflictError(`the total number of unique tags (${MAX_UNIQUE_TAGS}) has been exceeded`)
      }
    },

    listTags: (tenantId: string): Promise<string[]> => store.listTags(tenantId),

    listUpdateTypes: (tenantId: string): Promise<string[]> => store.listUpdateTypes(tenantId),

    async deleteReleases(tenantId: string, names: string[]): Promise<void> {
      if (names.length === 0) throw new BadRequestError('at least one release name has to be provided')
      const active = await usage.activeDeploymentIds(tenantId, names)
      if (active.length > 0) {
        throw new ConflictError('release(s) used in active deployment', { active_deployments: active })
      }
      for (const row of await artifactsStore.deleteArtifactsByNames(tenantId, names)) {
        await deps.blobs.delete(artifactBlobKey(tenantId, row.id)).catch((err) => {
          deps.log.warn('could not remove a deleted artifact from the blob store', {
            artifact_id: row.id,
            err,
          })
        })
      }
    },

    async listSoftware(tenantId: string, query: SoftwareQuery): Promise<SoftwareListing> {
      if (query.name?.length && query.name_prefix) {
        throw new BadRequestError(
          'name: cannot be used with name_prefix; name_prefix: cannot be used with name.',
        )
      }
      if (query.kind !== undefined && !SOFTWARE_KINDS.includes(query.kind)) {
        throw new BadRequestError('kind: must be a valid value.')
      }
      const sort = query.sort ?? 'name:asc'
      if (!SOFTWARE_SORTS.includes(sort)) throw new BadRequestError('sort: must be a valid value.')
      const paging = parsePaging(query)
      if (query.kind === 'manifest') return { software: [], total: 0, paging }
      const filter: ReleaseFilter = {
        names: query.name?.length ? query.name : undefined,
        name: query.name_prefix ? { startsWith: query.name_prefix } : undefined,
        updateType: query.update_type || undefined,
        tags: query.tag?.map((tag) => tag.toLowerCase()),
      }
      const { releases, total } = await list(tenantId, filter, parseReleaseSort(sort), paging)
      const software: ApiSoftware[] = releases.map((release) => ({
        name: release.name,
        modified: release.modified,
        tags: release.tags,
        notes: release.notes,
        kind: 'release',
        compatible_types: [...new Set(release.artifacts.flatMap((a) => a.device_types_compatible))],
      }))
      return { software, total, paging }
    },

    async listSoftwareTags(tenantId: string, kinds: readonly string[]): Promise<string[]> {
      if (kinds.length > 1) throw new BadRequestError('only one kind query argument can be specified')
      const [kind] = kinds
      if (kind !== undefined && !SOFTWARE_KINDS.includes(kind))
        throw new BadRequestError('Kind: must be a valid value.')
      return kind === 'manifest' ? [] : store.listTags(tenantId)
    },
  }
}

/** The v1 shape, with Mender's capitalised keys. */
export const toReleaseV1 = (release: ApiRelease): ApiReleaseV1 => ({
  Name: release.name,
  Modified: release.modified,
  Artifacts: release.artifacts,
  ArtifactsCount: release.artifacts_count,
  tags: release.tags,
  notes: release.notes,
})
