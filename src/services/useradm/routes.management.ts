import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { clientAddress } from '../../gateway/client-address.ts'
import { created, fromUnix, jwtResponse } from '../../gateway/responses.ts'
import { UseradmModel as M } from './model.ts'
import type { UseradmService } from './service.ts'

const detail = { tags: ['useradm'] }

/** `me` stands for the caller wherever a user id goes. */
const userId = (id: string, self: string) => (id === 'me' ? self : id)

export const useradmManagementRoutes = (
  svc: UseradmService,
  auth: AuthPlugin,
  trustedProxies: readonly string[] = [],
) =>
  new Elysia({ prefix: '/api/management/v1/useradm', detail })
    .use(auth)
    .post(
      '/auth/login',
      async ({ request, body, server }) =>
        jwtResponse(
          await svc.login(
            request.headers.get('authorization'),
            !!body?.no_expiry,
            clientAddress(request, server, trustedProxies),
          ),
        ),
      { body: M.loginOptions, detail: { summary: 'Log in with Basic auth; answers the raw JWT' } },
    )
    .post(
      '/auth/logout',
      async ({ user, set }) => {
        await svc.logout(user)
        set.status = 202
      },
      { user: true, detail: { summary: 'Revoke the token of this request' } },
    )
    .get(
      '/users',
      ({ user, query }) =>
        svc.listUsers(user.tenantId, {
          ids: query.id,
          emails: query.email?.map((email) => email.toLowerCase()),
          createdAfter: fromUnix(query.created_after),
          createdBefore: fromUnix(query.created_before),
          updatedAfter: fromUnix(query.updated_after),
          updatedBefore: fromUnix(query.updated_before),
        }),
      { user: true, query: M.usersQuery, response: { 200: t.Array(M.user) } },
    )
    .post(
      '/users',
      async ({ user, body, set, path }) => {
        const createdUser = await svc.createUser(user.tenantId, body)
        return created(set, `${path}/${createdUser.id}`)
      },
      { user: true, body: M.userNew },
    )
    .get('/users/:id', ({ user, params }) => svc.getUser(user.tenantId, userId(params.id, user.userId)), {
      user: true,
      params: M.idParams,
      response: { 200: M.user },
    })
    .put(
      '/users/:id',
      async ({ user, params, body, set }) => {
        await svc.updateUser(user, userId(params.id, user.userId), body)
        set.status = 204
      },
      { user: true, params: M.idParams, body: M.userUpdate },
    )
    .delete(
      '/users/:id',
      async ({ user, params, set }) => {
        await svc.deleteUser(user.tenantId, userId(params.id, user.userId))
        set.status = 204
      },
      { user: true, params: M.idParams },
    )
    .get(
      '/settings',
      async ({ user, set }) => {
        const { value, etag } = await svc.getSettings(user.tenantId, '')
        if (etag) set.headers.etag = etag
        return value
      },
      { user: true, response: { 200: M.settings } },
    )
    .post(
      '/settings',
      async ({ user, body, headers, set }) => {
        await svc.saveSettings(user.tenantId, '', body, headers['if-match'])
        set.status = 201
      },
      { user: true, body: M.settingsBody, headers: M.ifMatch },
    )
    .get(
      '/settings/me',
      async ({ user, set }) => {
        const { value, etag } = await svc.getSettings(user.tenantId, user.userId)
        if (etag) set.headers.etag = etag
        return value
      },
      { user: true, response: { 200: M.settings } },
    )
    .post(
      '/settings/me',
      async ({ user, body, headers, set }) => {
        await svc.saveSettings(user.tenantId, user.userId, body, headers['if-match'])
        set.status = 201
      },
      { user: true, body: M.settingsBody, headers: M.ifMatch },
    )
    .get('/settings/tokens', ({ user }) => svc.listPersonalTokens(user), {
      user: true,
      response: { 200: t.Array(M.personalToken) },
    })
    .post(
      '/settings/tokens',
      async ({ user, body }) => jwtResponse(await svc.createPersonalToken(user, body)),
      {
        user: true,
        body: M.tokenRequest,
        detail: { summary: 'Create a personal access token; answers the raw JWT' },
      },
    )
    .delete(
      '/settings/tokens/:id',
      async ({ user, params, set }) => {
        await svc.deletePersonalToken(user, params.id)
        set.status = 204
      },
      { user: true, params: M.idParams },
    )
    .get('/plans', () => [], {
      user: true,
      detail: { summary: 'Billing plans: bender has none, every feature is included' },
    })
    .get('/plan_binding', () => ({ limits: svc.limits() }), { user: true })

export const useradmManagementV2Routes = (svc: UseradmService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v2/useradm', detail }).use(auth).put(
    '/users/me',
    async ({ user, body, set }) => {
      await svc.updateUser(user, user.userId, body)
      set.status = 204
    },
    { user: true, body: M.ownUserUpdateV2 },
  )
