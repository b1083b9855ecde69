import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { parsePaging, setPageHeaders } from '../../gateway/paging.ts'
import { DeviceauthModel as M } from './model.ts'
import type { DeviceauthService } from './service.ts'

const detail = { tags: ['deviceauth'] }

/** Search filters may be one string or a list of them. */
const asList = (value: string | string[] | undefined): string[] | undefined =>
  value === undefined ? undefined : ([] as string[]).concat(value)

export const deviceauthManagementRoutes = (svc: DeviceauthService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v2/devauth', detail })
    .use(auth)
    .get(
      '/devices',
      async ({ user, query, request, set }) => {
        const paging = parsePaging(query)
        const { devices, hasNext } = await svc.listDevices(
          user.tenantId,
          { statuses: query.status, ids: query.id },
          paging,
        )
        setPageHeaders(set, request.url, paging, { hasNext })
        return devices
      },
      { user: true, query: M.devicesQuery, response: { 200: t.Array(M.device) } },
    )
    .post(
      '/devices/search',
      async ({ user, query, body, request, set }) => {
        const paging = parsePaging(query)
        const filter = { statuses: asList(body?.status), ids: asList(body?.id) }
        const { devices, hasNext } = await svc.listDevices(user.tenantId, filter, paging)
        setPageHeaders(set, request.url, paging, { hasNext })
        return devices
      },
      {
        user: true,
        query: t.Object({
          page: M.devicesQuery.properties.page,
          per_page: M.devicesQuery.properties.per_page,
        }),
        body: M.searchBody,
        response: { 200: t.Array(M.device) },
        detail: { summary: 'Search devices by status and id (JSON or form-encoded body)' },
      },
    )
    .get(
      '/devices/count',
      async ({ user, query }) => ({ count: await svc.countDevices(user.tenantId, query.status) }),
      {
        user: true,
        query: M.countQuery,
        response: { 200: M.count },
      },
    )
    .get('/devices/:id', ({ user, params }) => svc.getDevice(user.tenantId, params.id), {
      user: true,
      params: M.deviceParams,
      response: { 200: M.device },
    })
    .post(
      '/devices',
      async ({ user, body, set }) => {
        const result = await svc.preauthorize(user.tenantId, body)
        if (!result.created) {
          set.status = 409
          return result.existing
        }
        set.status = 201
        set.headers.location = `devices/${result.deviceId}`
        return ''
      },
      {
        user: true,
        body: M.preauthorization,
        response: { 201: t.String(), 409: M.device },
        detail: { summary: 'Preauthorize a device; 409 answers the device already holding the identity' },
      },
    )
    .delete(
      '/devices/:id',
      async ({ user, params, set }) => {
        await svc.decommission(user.tenantId, params.id)
        set.status = 204
      },
      { user: true, params: M.deviceParams, detail: { summary: 'Decommission a device' } },
    )
    .delete(
      '/devices/:id/auth/:aid',
      async ({ user, params, set }) => {
        await svc.deleteAuthSet(user.tenantId, params.id, params.aid)
        set.status = 204
      },
      { user: true, params: M.authSetParams },
    )
    .get(
      '/devices/:id/auth/:aid/status',
      ({ user, params }) => svc.getAuthSetStatus(user.tenantId, params.id, params.aid),
      { user: true, params: M.authSetParams, response: { 200: M.status } },
    )
    .put(
      '/devices/:id/auth/:aid/status',
      async ({ user, params, body, set }) => {
        await svc.setAuthSetStatus(user.tenantId, params.id, params.aid, body.status)
        set.status = 204
      },
      { user: true, params: M.authSetParams, body: M.status },
    )
    .delete(
      '/tokens/:id',
      async ({ user, params, set }) => {
        await svc.revokeToken(user.tenantId, params.id)
        set.status = 204
      },
      { user: true, params: M.deviceParams, detail: { summary: 'Revoke a device token by its jti' } },
    )
    .get('/limits/:name', ({ params }) => ({ limit: svc.limit(params.name) }), {
      user: true,
      params: M.limitParams,
      response: { 200: M.limit },
    })
