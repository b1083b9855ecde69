import { Elysia } from 'elysia'
import { type Database, pingDatabase } from '../../db/client.ts'
import { ApiError } from './errors.ts'

/** Mender's per-service `alive` (the process answers) and `health` (its database answers too). */
export const healthRoutes = (service: string, db: Database) =>
  new Elysia({ prefix: `/api/internal/v1/${service}`, detail: { tags: ['internal'] } })
    .get('/alive', ({ set }) => {
      set.status = 204
    })
    .get('/health', ({ set }) => {
      if (!pingDatabase(db)) throw new ApiError(503, 'service unavailable')
      set.status = 204
    })
