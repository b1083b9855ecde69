import { type ArtifactMeta, readArtifact } from '../../artifact/reader.ts'
import type { Deps } from '../../deps.ts'
import { asApiError, NotFoundError } from '../../gateway/errors.ts'
import { ClaimLostError, type UploadClaims } from './claims.ts'
import { artifactBlobKey } from './model.ts'
import type { ArtifactsStore, UploadIntentRow } from './store.ts'

const NOT_FOUND = 'Resource not found'

/** Where a client PUTs an artifact for a direct upload. */
export type DirectUploadLink = { id: string; uri: string; expire: string; method: string }

/**
 * Direct uploads: a link signed for the client to PUT the artifact to the storage proxy or S3, the
 * completion that checks the uploaded object in the background, and the uploads a dead instance
 * left behind, taken over through their claims.
 */
export type DirectUploads = {
  request(tenantId: string): Promise<DirectUploadLink>
  /** Whether the storage proxy takes a PUT to this object key (a pending direct upload's). */
  accepts(key: string): Promise<boolean>
  complete(tenantId: string, id: string): Promise<void>
  /** An upload whose claim ran out (its instance died), claimed and held by this instance now. */
  takeOver(intent: UploadIntentRow): void
}

export function createDirectUploads(
  deps: Pick<Deps, 'config' | 'blobs' | 'clock' | 'ids' | 'log' | 'links'>,
  store: ArtifactsStore,
  work: {
    claims: UploadClaims
    /** Records a checked upload (claimed by this instance); throws when it cannot be recorded. */
    record(tenantId: string, id: string, meta: ArtifactMeta): Promise<void>
    inBackground(work: Promise<void>): void
  },
): DirectUploads {
  const { config, blobs, clock, ids, log } = deps
  const { claims, record, inBackground } = work
  const { owner, claim, hold, unhold } = claims
  const inflate = { ratio: config.maxInflateRatio, maxSize: config.maxInflatedSize }

  async function check(tenantId: string, id: string): Promise<void> {
    const key = artifactBlobKey(tenantId, id)
    try {
      const content = await blobs.get(key)
      if (!content) throw new Error('the uploaded object is gone')
      const body = content.body instanceof Blob ? content.body.stream() : content.body
      const meta = await readArtifact(body, { maxSize: config.maxArtifactSize, inflate })
      await record(tenantId, id, meta)
      log.info('direct upload recorded', { artifact_id: id, name: meta.name })
    } catch (err) {
      await drop(tenantId, id, err as Error)
    } finally {
      unhold(id)
    }
  }

  /** Removes a direct upload the checks refused, unless another instance took it over meanwhile. */
  async function drop(tenantId: string, id: string, err: Error): Promise<void> {
    try {
      if (err instanceof ClaimLostError || !(await store.renewUploadClaim(tenantId, id, claim()))) {
        log.info('direct upload left to the instance that took it over', { artifact_id: id })
        return
      }
      // The words the synchronous upload would answer with; a failure of the server's own (the
      // blob store, a bug) stays in the log and the person reads a generic sentence.
      const reason = asApiError(err)?.message ?? 'the server could not check the uploaded file'
      log.warn('direct upload dropped', { artifact_id: id, reason: err.message })
      await blobs.delete(artifactBlobKey(tenantId, id))
      await store.refuseUploadIntent(tenantId, id, reason, owner)
    } catch (failure) {
      // Its claim runs out and the upload is checked again, here or on another instance.
      log.error('could not drop a direct upload; it will be checked again', { artifact_id: id, err: failure })
    }
  }

  /** An upload whose instance died while writing its object: removes what it wrote and frees its id. */
  async function dropDead(intent: UploadIntentRow): Promise<void> {
    try {
      await blobs.delete(artifactBlobKey(intent.tenantId, intent.id))
      await store.releaseUploadClaim(intent.tenantId, intent.id, owner)
      log.info('removed an upload its instance left unfinished', { artifact_id: intent.id })
    } catch (err) {
      log.warn('could not remove an unfinished upload', { artifact_id: intent.id, err })
    } finally {
      unhold(intent.id)
    }
  }

  return {
    async request(tenantId) {
      const id = ids.uuid()
      const link = deps.links.signUpload(artifactBlobKey(tenantId, id))
      await store.insertUploadIntent({
        id,
        tenantId,
        status: 'pending',
        createdTs: clock.now(),
        expiresTs: link.expires,
      })
      return { id, uri: link.url, expire: link.expires.toISOString(), method: 'PUT' }
    },

    async accepts(key) {
      const slash = key.lastIndexOf('/')
      const [tenantId, id] = slash < 0 ? ['', key] : [key.slice(0, slash), key.slice(slash + 1)]
      return (await store.findUploadIntent(tenantId, id))?.status === 'pending'
    },

    async complete(tenantId, id) {
      const intent = await store.findUploadIntent(tenantId, id)
      if (intent?.status !== 'pending' || !(await blobs.stat(artifactBlobKey(tenantId, id)))) {
        throw new NotFoundError(NOT_FOUND)
      }
      if (!(await store.setUploadIntentStatus(tenantId, id, 'pending', 'processing', claim())))
        throw new NotFoundError(NOT_FOUND)
      hold(id)
      inBackground(check(tenantId, id))
    },

    takeOver(intent) {
      if (intent.status === 'processing') {
        log.info('checking a direct upload another run left unfinished', { artifact_id: intent.id })
        inBackground(check(intent.tenantId, intent.id))
      } else inBackground(dropDead(intent))
    },
  }
}
