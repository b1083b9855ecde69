import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { setPageHeaders } from '../../gateway/paging.ts'
import { ReleasesModel as M } from './model.releases.ts'
import { type ReleasesService, toReleaseV1 } from './service.releases.ts'

const detail = { tags: ['deployments'] }

export const releasesManagementRoutes = (svc: ReleasesService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v1/deployments/deployments', detail })
    .use(auth)
    .get(
      '/releases',
      async ({ user, query }) => (await svc.listReleasesV1(user.tenantId, query)).map(toReleaseV1),
      {
        user: true,
        query: M.v1Query,
        response: { 200: t.Array(M.releaseV1) },
        detail: { summary: 'List releases (the first 20 by name, as in Mender)' },
      },
    )
    .get(
      '/releases/list',
      async ({ user, query, request, set }) => {
        const { releases, total, paging } = await svc.listReleasesPage(user.tenantId, query)
        setPageHeaders(set, request.url, paging, { total })
        return releases.map(toReleaseV1)
      },
      { user: true, query: M.v1PageQuery, response: { 200: t.Array(M.releaseV1) } },
    )

export const releasesManagementV2Routes = (svc: ReleasesService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v2/deployments', detail })
    .use(auth)
    .get(
      '/deployments/releases',
      async ({ user, query, request, set }) => {
        const { releases, total, paging } = await svc.listReleasesV2(user.tenantId, query)
        setPageHeaders(set, request.url, paging, { total })
        return releases
      },
      { user: true, query: M.v2Query, response: { 200: t.Array(M.release) } },
    )
    .delete(
      '/deployments/releases',
      async ({ user, query, set }) => {
        await svc.deleteReleases(user.tenantId, query.name ?? [])
        set.status = 204
      },
      {
        user: true,
        query: M.deleteQuery,
        detail: { summary: 'Delete releases and their artifacts, unless an active deployment uses them' },
      },
    )
    .get('/deployments/releases/:name', ({ user, params }) => svc.getRelease(user.tenantId, params.name), {
      user: true,
      params: M.nameParams,
      response: { 200: M.release },
    })
    .patch(
      '/deployments/releases/:name',
      async ({ user, params, body, set }) => {
        await svc.updateNotes(user.tenantId, params.name, body?.notes ?? '')
        set.status = 204
      },
      { user: true, params: M.nameParams, body: M.patch },
    )
    .put(
      '/deployments/releases/:name/tags',
      async ({ user, params, body, set }) => {
        await svc.replaceTags(user.tenantId, params.name, body)
        set.status = 204
      },
      { user: true, params: M.nameParams, body: M.tags },
    )
    .get('/releases/all/tags', ({ user }) => svc.listTags(user.tenantId), {
      user: true,
      response: { 200: M.tags },
    })
    .get('/releases/all/types', ({ user }) => svc.listUpdateTypes(user.tenantId), {
      user: true,
      response: { 200: t.Array(t.String()) },
    })

export const softwareManagementRoutes = (svc: ReleasesService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v1alpha1/deployments', detail })
    .use(auth)
    .get(
      '/software',
      async ({ user, query, request, set }) => {
        const { software, total, paging } = await svc.listSoftware(user.tenantId, query)
        setPageHeaders(set, request.url, paging, { total })
        return software
      },
      { user: true, query: M.softwareQuery, response: { 200: t.Array(M.software) } },
    )
    .get('/software/tags', ({ user, query }) => svc.listSoftwareTags(user.tenantId, query.kind ?? []), {
      user: true,
      query: M.softwareTagsQuery,
      response: { 200: M.tags },
    })
