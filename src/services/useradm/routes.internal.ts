import { Elysia } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'

/** Token verification for a gateway placed in front of bender (Traefik forwardAuth style). */
export const useradmInternalRoutes = (auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/internal/v1/useradm', detail: { tags: ['internal'] } })
    .use(auth)
    .post('/auth/verify', () => '', { user: true })
    .get('/auth/verify', () => '', { user: true })
