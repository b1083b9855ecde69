import { Elysia } from 'elysia'
import type { DatabaseHandle } from '../engine.ts'
import type { Logger } from '../log.ts'
import type { BlobStore } from '../storage/blobs.ts'
import { ApiError } from './errors.ts'

type Readiness = { database: Pick<DatabaseHandle, 'ping'>; blobs: Pick<BlobStore, 'ping'>; log: Logger }

/**
 * Mender's per-service `alive` (the process answers: liveness) and `health` (readiness: the
 * database answers and the blob store is usable). A failed check is a 503 naming what failed, and
 * a warning in the log with its cause.
 */
export const healthRoutes = (service: string, { database, blobs, log }: Readiness) =>
  new Elysia({ prefix: `/api/internal/v1/${service}`, detail: { tags: ['internal'] } })
    .get('/alive', ({ set }) => {
      set.status = 204
    })
    .get('/health', async ({ set }) => {
      if (!(await database.ping())) {
        log.warn('readiness: the database does not answer', { service })
        throw new ApiError(503, 'service unavailable: database')
      }
      try {
        await blobs.ping()
      } catch (err) {
        log.warn('readiness: the blob store is not usable', { service, err })
        throw new ApiError(503, 'service unavailable: artifact store')
      }
      set.status = 204
    })
