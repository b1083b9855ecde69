import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { parsePaging, setPageHeaders } from '../../gateway/paging.ts'
import { created } from '../../gateway/responses.ts'
import { DeploymentsModel as M } from './model.ts'
import type { ListInput } from './requests.ts'
import type { DeploymentsService } from './service.ts'

const detail = { tags: ['deployments'] }
const LOCATION = '/api/management/v1/deployments/deployments'
/** Mender's bound on a device's deployment history page. */
const MAX_HISTORY_PER_PAGE = 20

/** The v1 and v2 deployment lists: one page, with Mender's paging headers. */
const listDeployments =
  (svc: DeploymentsService) =>
  async (ctx: {
    user: { tenantId: string }
    query: ListInput & { page?: number | string; per_page?: number | string }
    request: Request
    set: { headers: Record<string, unknown> }
  }) => {
    const paging = parsePaging(ctx.query)
    const { deployments, total, hasNext } = await svc.listDeployments(ctx.user.tenantId, ctx.query, paging)
    setPageHeaders(ctx.set, ctx.request.url, paging, { total, hasNext })
    return deployments
  }

export const deploymentsManagementRoutes = (svc: DeploymentsService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v1/deployments', detail })
    .use(auth)
    .post(
      '/deployments',
      async ({ user, body, set }) =>
        created(set, `${LOCATION}/${await svc.createDeployment(user.tenantId, body)}`),
      {
        user: true,
        body: M.newDeployment,
        detail: { summary: 'Deploy an artifact to a list of devices, or to every accepted device' },
      },
    )
    .get('/deployments', listDeployments(svc), {
      user: true,
      query: M.listQueryV1,
      response: { 200: t.Array(M.deployment) },
    })
    .post(
      '/deployments/statistics/list',
      ({ user, body }) => svc.listStatistics(user.tenantId, body.deployment_ids),
      {
        user: true,
        body: M.statisticsList,
        response: { 200: t.Union([t.Array(M.statisticsListItem), t.Object({})]) },
        detail: { summary: 'Statistics of several deployments' },
      },
    )
    .post(
      '/deployments/group/:name',
      async ({ user, params, body, set }) => {
        const { devices, all_devices, ...rest } = body
        const id = await svc.createDeployment(user.tenantId, {
          ...rest,
          group: params.name,
          groupDevices: devices,
          groupAllDevices: all_devices,
        })
        return created(set, `${LOCATION}/${id}`)
      },
      {
        user: true,
        params: M.groupParams,
        body: M.newGroupDeployment,
        detail: { summary: 'Deploy an artifact to the accepted devices of a static group' },
      },
    )
    .get('/deployments/:id', ({ user, params }) => svc.getDeployment(user.tenantId, params.id), {
      user: true,
      params: M.idParams,
      response: { 200: M.deployment },
    })
    .put(
      '/deployments/:id/status',
      async ({ user, params, body, set }) => {
        await svc.changeDeploymentStatus(user.tenantId, params.id, body)
        set.status = 204
      },
      {
        user: true,
        params: M.idParams,
        body: M.abort,
        detail: {
          summary: 'Abort, pause or resume the deployment (resuming after a failure gate needs override)',
        },
      },
    )
    .get('/deployments/:id/statistics', ({ user, params }) => svc.getStatistics(user.tenantId, params.id), {
      user: true,
      params: M.idParams,
      response: { 200: M.statistics },
    })
    .get(
      '/deployments/:id/devices',
      ({ user, params }) => svc.listDeviceDeployments(user.tenantId, params.id),
      {
        user: true,
        params: M.idParams,
        response: { 200: t.Array(M.deviceDeployment) },
        detail: { summary: 'Every device of the deployment that picked it up (unpaged; see /devices/list)' },
      },
    )
    .get(
      '/deployments/:id/devices/list',
      async ({ user, params, query, request, set }) => {
        const paging = parsePaging(query)
        const { devices, total } = await svc.pageDeviceDeployments(
          user.tenantId,
          params.id,
          query.status,
          paging,
        )
        setPageHeaders(set, request.url, paging, { total })
        return devices
      },
      {
        user: true,
        params: M.idParams,
        query: M.devicesListQuery,
        response: { 200: t.Array(M.deviceDeployment) },
      },
    )
    .get('/deployments/:id/device_list', ({ user, params }) => svc.deviceList(user.tenantId, params.id), {
      user: true,
      params: M.idParams,
      response: { 200: t.Array(t.String()) },
      detail: { summary: 'The ids of the devices the deployment was made for' },
    })
    .get(
      '/deployments/:id/devices/:device_id/log',
      async ({ user, params }) =>
        new Response(await svc.deviceLog(user.tenantId, params.id, params.device_id), {
          headers: { 'content-type': 'text/plain' },
        }),
      {
        user: true,
        params: M.logParams,
        detail: { summary: "A device's deployment log as text: `<time> <level>: <message>` per line" },
      },
    )
    .get(
      '/deployments/devices/:id',
      async ({ user, params, query, request, set }) => {
        const paging = parsePaging(query, { maxPerPage: MAX_HISTORY_PER_PAGE })
        const { items, total } = await svc.deviceHistory(user.tenantId, params.id, query.status, paging)
        setPageHeaders(set, request.url, paging, { total })
        return items
      },
      {
        user: true,
        params: M.idParams,
        query: M.historyQuery,
        response: { 200: t.Array(M.historyItem) },
        detail: { summary: "A device's deployment history, newest first (at most 20 a page)" },
      },
    )
    .delete(
      '/deployments/devices/:id',
      async ({ user, params, set }) => {
        await svc.abortDeviceDeployments(user.tenantId, params.id)
        set.status = 204
      },
      {
        user: true,
        params: M.idParams,
        detail: { summary: "Abort the device's active and pending deployments" },
      },
    )
    .delete(
      '/deployments/devices/:id/history',
      async ({ user, params, set }) => {
        await svc.deleteDeviceHistory(user.tenantId, params.id)
        set.status = 204
      },
      {
        user: true,
        params: M.idParams,
        detail: { summary: "Delete the device's finished deployments from its history" },
      },
    )

export const deploymentsManagementV2Routes = (svc: DeploymentsService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v2/deployments', detail })
    .use(auth)
    .post(
      '/deployments',
      async ({ user, body, set }) =>
        created(set, `${LOCATION}/${await svc.createDynamicDeployment(user.tenantId, body)}`),
      {
        user: true,
        body: M.newDynamicDeployment,
        detail: { summary: 'Deploy to the devices of a saved filter, and to those that come to match it' },
      },
    )
    .get('/deployments', listDeployments(svc), {
      user: true,
      query: M.listQueryV2,
      response: { 200: t.Array(M.deployment) },
    })
