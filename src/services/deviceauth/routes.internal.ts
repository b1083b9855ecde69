import { Elysia } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'

/** Device token verification for a gateway placed in front of bender (Traefik forwardAuth style). */
export const deviceauthInternalRoutes = (auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/internal/v1/devauth', detail: { tags: ['internal'] } })
    .use(auth)
    .post('/tokens/verify', () => '', { device: true })
    .get('/tokens/verify', () => '', { device: true })
