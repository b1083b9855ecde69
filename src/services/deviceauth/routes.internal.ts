import { Elysia } from 'elysia'
import type { Database } from '../../../db/client.ts'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { healthRoutes } from '../../gateway/health.ts'

/** Health, and device token verification for a gateway placed in front of bender (Traefik forwardAuth style). */
export const deviceauthInternalRoutes = (db: Database, auth: AuthPlugin) =>
  new Elysia({ detail: { tags: ['internal'] } })
    .use(healthRoutes('devauth', db))
    .use(auth)
    .post('/api/internal/v1/devauth/tokens/verify', () => '', { device: true })
    .get('/api/internal/v1/devauth/tokens/verify', () => '', { device: true })
