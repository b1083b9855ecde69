import { Elysia } from 'elysia'
import type { Database } from '../../../db/client.ts'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { healthRoutes } from '../../gateway/health.ts'

/** Health, and token verification for a gateway placed in front of bender (Traefik forwardAuth style). */
export const useradmInternalRoutes = (db: Database, auth: AuthPlugin) =>
  new Elysia({ detail: { tags: ['internal'] } })
    .use(healthRoutes('useradm', db))
    .use(auth)
    .post('/api/internal/v1/useradm/auth/verify', () => '', { user: true })
    .get('/api/internal/v1/useradm/auth/verify', () => '', { user: true })
