import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ArtifactMeta } from '../../artifact/reader.ts'
import { writeModuleImage } from '../../artifact/writer.ts'
import type { Deps } from '../../deps.ts'
import { writeNewFile } from '../../files.ts'
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  ServerStateError,
  UnprocessableError,
} from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import { requireUuid } from '../../ids.ts'
import { expiredLongAgo, orphanCutoff, type SweepResult, sweepOrphans } from '../../storage/orphans.ts'
import { ClaimLostError, createUploadClaims, ID_TAKEN } from './claims.ts'
import { unwindDepends } from './depends.ts'
import { createDirectUploads, type DirectUploadLink } from './direct.ts'
import { generateSpec } from './generate.ts'
import { readAndStoreArtifact } from './ingest.ts'
import {
  type ApiArtifact,
  type ApiLink,
  type ArtifactRow,
  type ArtifactUpload,
  artifactBlobKey,
  type GenerateRequest,
  toApiArtifact,
} from './model.ts'
import {
  lenientPaging,
  type PageQuery,
  parseArtifactSort,
  parseV2Query,
  type SubstringQuery,
  substringFilter,
  type V2Query,
} from './queries.ts'
import type { ArtifactSort } from './store.ts'

/**
 * What the artifact rules need to know about deployments (which deployments own): an artifact
 * used by an active deployment cannot be deleted, one used by any deployment cannot be edited.
 */
export type DeploymentUsage = {
  /** Ids of unfinished deployments of any of these artifact names. */
  activeDeploymentIds(tenantId: string, artifactNames: readonly string[]): Promise<string[]>
  isNameInAnyDeployment(tenantId: string, artifactName: string): Promise<boolean>
}

const NOT_FOUND = 'Resource not found'
const MAX_DESCRIPTION_LENGTH = 4096
const CONFLICT = 'an artifact with the same name and depends already exists'
const BY_NAME: ArtifactSort = { by: 'name', order: 'asc' }

function toRow(tenantId: string, id: string, meta: ArtifactMeta, description: string, at: Date): ArtifactRow {
  return {
    id,
    tenantId,
    name: meta.name,
    description,
    deviceTypes: meta.device_types_compatible,
    info: meta.info,
    signed: meta.signed,
    updates: meta.updates,
    provides: meta.artifact_provides ?? null,
    // Mender records the compatible device types as a depend of every artifact, format 2 included.
    depends: meta.artifact_depends ?? { device_type: meta.device_types_compatible },
    clearsProvides: meta.clears_artifact_provides ?? null,
    size: meta.size,
    modified: at,
  }
}

/** A page of artifacts with the total for X-Total-Count (v1 `/artifacts/list`). */
export type ArtifactPage = { artifacts: ApiArtifact[]; total: number; paging: Paging }
/** A page of artifacts without a total; `hasNext` when more follow (v2). */
export type ArtifactPageV2 = { artifacts: ApiArtifact[]; hasNext: boolean; paging: Paging }
/** Artifacts: uploading (streamed, checked), generating, listing, editing and deleting them; their files. */
export interface ArtifactsService {
  /**
   * The artifact's bytes are parsed while they stream into the blob store, then recorded; 409
   * when its id, or its name and depends, are taken. Nothing remains of an upload that fails.
   */
  uploadArtifact(tenantId: string, upload: ArtifactUpload): Promise<string>
  /**
   * Builds a single-file artifact from the uploaded file and stores it like an upload; 422 when
   * its name and device types are taken.
   */
  generateArtifact(tenantId: string, request: GenerateRequest): Promise<string>
  /** A signed PUT link on the storage proxy; the upload stays pending until completed. */
  requestDirectUpload(tenantId: string): Promise<DirectUploadLink>
  /** Whether `key` is the blob key of a direct upload still waiting for its bytes (the storage proxy asks). */
  acceptsUpload(key: string): Promise<boolean>
  /** Starts checking an uploaded object in the background; the artifact appears if it is valid. */
  completeDirectUpload(tenantId: string, id: string): Promise<void>
  /** v1: every artifact matching the substring filters, by name. */
  listArtifacts(tenantId: string, query: SubstringQuery): Promise<ApiArtifact[]>
  /** v1 `/artifacts/list`: the same filters, sorted and paged; with the total for X-Total-Count. */
  listArtifactsPage(
    tenantId: string,
    query: SubstringQuery & PageQuery & { sort?: string },
  ): Promise<ArtifactPage>
  /** v2: exact or prefix filters, by name, paged without a total (one extra row tells if more follow). */
  listArtifactsV2(tenantId: string, query: V2Query): Promise<ArtifactPageV2>
  /** One artifact; 400 for an id that is not a UUID, 404 when unknown. */
  getArtifact(tenantId: string, id: string): Promise<ApiArtifact>
  /** Sets the description, unless a deployment has used the artifact. */
  editArtifact(tenantId: string, id: string, description: string): Promise<void>
  /** Deletes the artifact and its file, unless an active deployment uses it. */
  deleteArtifact(tenantId: string, id: string): Promise<void>
  /**
   * A link to download the artifact's file, valid for BENDER_DOWNLOAD_LINK_TTL (15 minutes); a 410
   * (logged as an error) when the file is missing from the store.
   */
  downloadLink(tenantId: string, id: string): Promise<ApiLink>
  /** Mender's one deployments limit, `storage`: no limit (0), and the bytes in use. */
  limit(tenantId: string, name: string): Promise<{ limit: number; usage: number }>
  /** The artifacts of a name (one per device-type combination), for a deployment to choose from. */
  findArtifactsByName(tenantId: string, name: string): Promise<ArtifactRow[]>
  /** One artifact by id, if it exists. */
  findArtifactById(tenantId: string, id: string): Promise<ArtifactRow | undefined>
  /**
   * Start-up housekeeping, before any upload is in flight: forgets direct uploads whose link
   * expired long ago, empties the temp dir, removes objects that belong to no artifact and no
   * pending upload, and resumes checking the uploads a stop interrupted.
   */
  startUp(): Promise<SweepResult>
  /** Resolves once background work (direct uploads being checked) has finished. */
  idle(): Promise<void>
  /**
   * Stops renewing this instance's claims on uploads and looking for others' left to run out, and
   * gives its claims up, so that another instance takes their work over at its next look.
   */
  stop(): Promise<void>
}

export function createArtifactsService(deps: Deps, services: { usage: DeploymentUsage }): ArtifactsService {
  // Long as a whole: one closure over the dependencies its methods share; each method is short.
  const { config, blobs, clock, ids, log } = deps
  const store = deps.stores.artifacts
  const { usage } = services
  const inflate = { ratio: config.maxInflateRatio, maxSize: config.maxInflatedSize }
  const tempRoot = join(config.dataDir, 'tmp')
  const background = new Set<Promise<void>>()
  // Uploads this instance works on, claimed so that one instance does each; those whose instance
  // died are taken over here.
  const claims = createUploadClaims(deps, store, (intent) => direct.takeOver(intent))
  const { owner, claim, hold, unhold } = claims
  const direct = createDirectUploads(deps, store, {
    claims,
    record: (tenantId, id, meta) => record(tenantId, id, meta, '', uploadConflict, true),
    inBackground,
  })

  /**
   * Records a stored artifact: its row and its release, unless the same name and depends are taken,
   * in which case its object is removed and the conflict thrown. `conflict` makes that error.
   * `claimed`: the id is claimed by this instance (an upload intent), settled by the same
   * transaction; if the claim was lost, the object is left to the new owner and ClaimLostError thrown.
   */
  async function record(
    tenantId: string,
    id: string,
    meta: ArtifactMeta,
    description: string,
    conflict: (taken: Record<string, string>) => Error,
    claimed = false,
  ): Promise<void> {
    let failure: Error
    try {
      const row = toRow(tenantId, id, meta, description, clock.now())
      const result = await store.insertArtifact(
        row,
        unwindDepends(row.depends),
        claimed ? { id, owner } : undefined,
      )
      if (result.inserted) return
      if ('lost' in result) throw new ClaimLostError()
      failure = conflict(result.conflict)
    } catch (err) {
      if (err instanceof ClaimLostError) throw err
      failure = err as Error
    }
    await blobs.delete(artifactBlobKey(tenantId, id))
    throw failure
  }

  /** Frees an id this instance claimed; if that fails, the claim runs out and is taken over. */
  async function releaseId(tenantId: string, id: string): Promise<void> {
    try {
      await store.releaseUploadClaim(tenantId, id, owner)
    } catch (err) {
      log.warn('could not free the id of a failed upload', { artifact_id: id, err })
    }
  }

  /** Stores and records an upload whose id no other upload can be using. */
  async function storeUpload(tenantId: string, id: string, upload: ArtifactUpload, claimed: boolean) {
    const key = artifactBlobKey(tenantId, id)
    const meta = await readAndStoreArtifact(blobs, key, upload.content, config.maxArtifactSize, inflate)
    await record(tenantId, id, meta, upload.description, uploadConflict, claimed)
    return id
  }

  const uploadConflict = (taken: Record<string, string>) =>
    new ConflictError(CONFLICT, { metadata: { conflict: taken } })
  // Mender's generator checks uniqueness up front and answers 422 without details.
  const generateConflict = () => new UnprocessableError('Artifact not unique')

  function inBackground(work: Promise<void>): void {
    background.add(work)
    void work.finally(() => background.delete(work))
  }

  async function findArtifact(tenantId: string, id: string): Promise<ArtifactRow> {
    requireUuid(id)
    const row = await store.findArtifactById(tenantId, id)
    if (!row) throw new NotFoundError(NOT_FOUND)
    return row
  }

  return {
    async uploadArtifact(tenantId: string, upload: ArtifactUpload): Promise<string> {
      const id = upload.artifactId
      if (id === undefined) return storeUpload(tenantId, ids.uuid(), upload, false)
      // A chosen id is claimed in the database before anything is written: of two uploads of one
      // id, on any instances, the second is refused here and never touches the first one's object.
      if (!(await store.claimArtifactId(tenantId, id, claim(), clock.now())))
        throw new ConflictError(ID_TAKEN)
      hold(id)
      let stored = false
      try {
        await storeUpload(tenantId, id, upload, true)
        stored = true
        return id
      } finally {
        // A refused or broken upload left nothing (or removed its object): the id is free again.
        if (!stored) await releaseId(tenantId, id)
        unhold(id)
      }
    },

    /**
     * Builds a single-file artifact from the uploaded file (written to a temp dir first, as the
     * writer reads its payload twice: once to size it, once to hash it) and stores it like an upload.
     */
    async generateArtifact(tenantId: string, request: GenerateRequest): Promise<string> {
      await mkdir(tempRoot, { recursive: true })
      const dir = await mkdtemp(join(tempRoot, 'generate-'))
      try {
        const payloadPath = join(dir, 'payload')
        await writeNewFile(payloadPath, request.content)
        const spec = generateSpec(request, payloadPath)
        const claims = unwindDepends({ device_type: spec.deviceTypes })
        if (await store.isCombinationTaken(tenantId, spec.name, claims)) throw generateConflict()
        const artifactPath = join(dir, 'artifact.mender')
        await writeModuleImage(spec, artifactPath)
        const id = ids.uuid()
        const key = artifactBlobKey(tenantId, id)
        const meta = await readAndStoreArtifact(
          blobs,
          key,
          Bun.file(artifactPath).stream(),
          config.maxArtifactSize,
          inflate,
        )
        await record(tenantId, id, meta, request.description, generateConflict)
        return id
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },

    requestDirectUpload: (tenantId) => direct.request(tenantId),
    acceptsUpload: (key) => direct.accepts(key),
    completeDirectUpload: (tenantId, id) => direct.complete(tenantId, id),

    listArtifacts: async (tenantId: string, query: SubstringQuery): Promise<ApiArtifact[]> =>
      (await store.listArtifacts(tenantId, substringFilter(query), BY_NAME)).map(toApiArtifact),

    async listArtifactsPage(tenantId: string, query: SubstringQuery & PageQuery & { sort?: string }) {
      const filter = substringFilter(query)
      const paging = lenientPaging(query)
      const window = { offset: pageOffset(paging), limit: paging.perPage }
      const rows = await store.listArtifacts(tenantId, filter, parseArtifactSort(query.sort), window)
      return {
        artifacts: rows.map(toApiArtifact),
        total: await store.countArtifacts(tenantId, filter),
        paging,
      }
    },

    async listArtifactsV2(tenantId: string, query: V2Query) {
      const { filter, paging } = parseV2Query(query)
      const window = { offset: pageOffset(paging), limit: paging.perPage + 1 }
      const rows = await store.listArtifacts(tenantId, filter, BY_NAME, window)
      return {
        artifacts: rows.slice(0, paging.perPage).map(toApiArtifact),
        hasNext: rows.length > paging.perPage,
        paging,
      }
    },

    getArtifact: async (tenantId: string, id: string): Promise<ApiArtifact> =>
      toApiArtifact(await findArtifact(tenantId, id)),

    async editArtifact(tenantId: string, id: string, description: string): Promise<void> {
      requireUuid(id)
      if (description.length > MAX_DESCRIPTION_LENGTH) {
        throw new BadRequestError(
          `Validating request body: description: the length must be no more than ${MAX_DESCRIPTION_LENGTH}.`,
        )
      }
      const row = await findArtifact(tenantId, id)
      if (await usage.isNameInAnyDeployment(tenantId, row.name)) {
        throw new UnprocessableError('Image has already been used in deployment')
      }
      await store.updateDescription(tenantId, id, description, clock.now())
    },

    async deleteArtifact(tenantId: string, id: string): Promise<void> {
      const row = await findArtifact(tenantId, id)
      if ((await usage.activeDeploymentIds(tenantId, [row.name])).length > 0) {
        throw new ConflictError('Artifact is used in active deployment')
      }
      await store.deleteArtifact(tenantId, id, clock.now())
      await removeBlob(tenantId, id)
    },

    async downloadLink(tenantId: string, id: string): Promise<ApiLink> {
      const row = await findArtifact(tenantId, id)
      const key = artifactBlobKey(tenantId, id)
      if (!(await blobs.stat(key))) {
        // Listed but unservable (a restore without its files, a store emptied by hand): the user
        // learns why, and the operator reads it in the log.
        throw new ServerStateError(410, "the artifact's file is missing from the artifact store", {
          artifact_id: id,
          blob_key: key,
        })
      }
      const link = await deps.links.download(key, { filename: `${row.name}.mender` })
      return { uri: link.url, expire: link.expires.toISOString(), method: 'GET' }
    },

    findArtifactsByName: (tenantId, name) => store.findArtifactsByName(tenantId, name),
    findArtifactById: (tenantId, id) => store.findArtifactById(tenantId, id),

    async limit(tenantId: string, name: string) {
      if (name !== 'storage') throw new BadRequestError(`unsupported limit ${name}`)
      return { limit: 0, usage: await store.storageUsage(tenantId) }
    },

    async startUp(): Promise<SweepResult> {
      const now = clock.now()
      const cutoff = orphanCutoff(config, now)
      // By the expiry its link was signed with, whatever the link lifetime is set to now.
      for (const intent of await store.listUploadIntents('pending')) {
        if (expiredLongAgo(intent.expiresTs, now)) await store.deleteUploadIntent(intent.tenantId, intent.id)
      }
      await rm(tempRoot, { recursive: true, force: true })
      const result = await sweepOrphans(blobs, {
        isReferenced: (key) => store.isIdTaken(key.slice(key.lastIndexOf('/') + 1)),
        olderThan: cutoff,
      })
      // Uploads a stopped or dead instance left: each is claimed here, so one instance takes each.
      // Those another instance is working on keep their claims and are left to it.
      await claims.watch()
      return result
    },

    async idle(): Promise<void> {
      while (background.size > 0) await Promise.allSettled([...background])
    },

    stop: () => claims.stop(),
  }

  async function removeBlob(tenantId: string, id: string): Promise<void> {
    try {
      await blobs.delete(artifactBlobKey(tenantId, id))
    } catch (err) {
      // The row is gone, so the object is an orphan the next start-up sweep removes.
      log.warn('could not remove a deleted artifact from the blob store', { artifact_id: id, err })
    }
  }
}
