import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { parsePaging, setPageHeaders } from '../../gateway/paging.ts'
import { created } from '../../gateway/responses.ts'
import { parseIdentitySearch, parseListQuery, parseSearchBody } from './filters.ts'
import { InventoryModel as M } from './model.ts'
import type { InventoryService } from './service.ts'

const detail = { tags: ['inventory'] }

export const inventoryManagementRoutes = (svc: InventoryService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v1/inventory', detail })
    .use(auth)
    .get(
      '/devices',
      async ({ user, request, set }) => {
        // The raw query string: every parameter the schema does not name is a filter.
        const search = parseListQuery(new URL(request.url).searchParams)
        const { devices, total, paging } = await svc.searchDevices(user.tenantId, search)
        setPageHeaders(set, request.url, paging, { total })
        return devices
      },
      { user: true, query: M.listQuery, response: { 200: t.Array(M.device) } },
    )
    .get(
      '/devices/:id',
      async ({ user, params, set }) => {
        const { device, etag } = await svc.getDevice(user.tenantId, params.id)
        if (etag) set.headers.etag = etag
        return device
      },
      { user: true, params: M.idParams, response: { 200: M.device } },
    )
    .delete(
      '/devices/:id',
      async ({ user, params, set }) => {
        await svc.deleteInventory(user.tenantId, params.id)
        set.status = 204
      },
      { user: true, params: M.idParams, detail: { summary: "Clear the device's inventory attributes" } },
    )
    .put(
      '/devices/:id/tags',
      async ({ user, params, body, headers }) => {
        await svc.setTags(user.tenantId, params.id, body, 'replace', headers['if-match'])
        return ''
      },
      { user: true, params: M.idParams, body: M.attributesInput, headers: M.ifMatch },
    )
    .patch(
      '/devices/:id/tags',
      async ({ user, params, body, headers }) => {
        await svc.setTags(user.tenantId, params.id, body, 'merge', headers['if-match'])
        return ''
      },
      { user: true, params: M.idParams, body: M.attributesInput, headers: M.ifMatch },
    )
    .get(
      '/devices/:id/group',
      async ({ user, params }) => ({ group: await svc.getGroup(user.tenantId, params.id) }),
      {
        user: true,
        params: M.idParams,
        response: { 200: M.groupReply },
      },
    )
    .put(
      '/devices/:id/group',
      async ({ user, params, body, set }) => {
        await svc.setGroup(user.tenantId, params.id, body.group)
        set.status = 204
      },
      { user: true, params: M.idParams, body: M.group },
    )
    .delete(
      '/devices/:id/group/:name',
      async ({ user, params, set }) => {
        await svc.clearGroup(user.tenantId, params.id, params.name)
        set.status = 204
      },
      { user: true, params: M.deviceGroupParams },
    )
    .get('/groups', ({ user, query }) => svc.listGroups(user.tenantId, query.status), {
      user: true,
      query: M.groupsQuery,
      response: { 200: t.Array(t.String()) },
    })
    .delete('/groups/:name', ({ user, params }) => svc.deleteGroup(user.tenantId, params.name), {
      user: true,
      params: M.nameParams,
      response: { 200: M.updateResult },
    })
    .get(
      '/groups/:name/devices',
      async ({ user, params, query, request, set }) => {
        const { ids, total, paging } = await svc.listGroupDevices(
          user.tenantId,
          params.name,
          parsePaging(query),
        )
        setPageHeaders(set, request.url, paging, { total })
        return ids
      },
      { user: true, params: M.nameParams, query: M.pagingQuery, response: { 200: t.Array(t.String()) } },
    )
    .patch(
      '/groups/:name/devices',
      ({ user, params, body }) => svc.assignGroup(user.tenantId, params.name, body),
      { user: true, params: M.nameParams, body: M.deviceIds, response: { 200: M.updateResult } },
    )
    .delete(
      '/groups/:name/devices',
      ({ user, params, body }) => svc.unassignGroup(user.tenantId, params.name, body),
      { user: true, params: M.nameParams, body: M.deviceIds, response: { 200: M.updateResult } },
    )

const FILTERS = '/api/management/v2/inventory/filters'

export const inventoryManagementV2Routes = (svc: InventoryService, auth: AuthPlugin) =>
  new Elysia({ detail })
    .use(auth)
    .post(
      '/api/management/v2/inventory/filters/search',
      async ({ user, body, set }) => {
        const { devices, total } = await svc.searchDevices(user.tenantId, parseSearchBody(body))
        set.headers['x-total-count'] = String(total)
        return devices
      },
      {
        user: true,
        // The body is optional: none searches everything.
        transform: (ctx) => {
          ctx.body ??= {}
        },
        body: M.searchBody,
        response: { 200: t.Array(M.device) },
      },
    )
    .get(
      FILTERS,
      async ({ user, query, request, set }) => {
        const paging = parsePaging(query)
        const { filters, total } = await svc.listSavedFilters(user.tenantId, paging)
        setPageHeaders(set, request.url, paging, { total })
        return filters
      },
      { user: true, query: M.pagingQuery, response: { 200: t.Array(M.savedFilter) } },
    )
    .post(
      FILTERS,
      async ({ user, body, set }) =>
        created(set, `${FILTERS}/${await svc.createSavedFilter(user.tenantId, body)}`),
      { user: true, body: M.filterDefinition, detail: { summary: 'Save a filter (a dynamic group)' } },
    )
    .get(`${FILTERS}/:id`, ({ user, params }) => svc.getSavedFilter(user.tenantId, params.id), {
      user: true,
      params: M.filterParams,
      response: { 200: M.savedFilter },
    })
    .put(
      `${FILTERS}/:id`,
      async ({ user, params, body, set }) => {
        await svc.replaceSavedFilter(user.tenantId, params.id, body)
        set.status = 204
      },
      { user: true, params: M.filterParams, body: M.filterDefinition },
    )
    .delete(
      `${FILTERS}/:id`,
      async ({ user, params, set }) => {
        await svc.deleteSavedFilter(user.tenantId, params.id)
        set.status = 204
      },
      { user: true, params: M.filterParams },
    )
    .get(
      `${FILTERS}/:id/search`,
      async ({ user, params, query, request, set }) => {
        const paging = parsePaging(query)
        const { devices, total } = await svc.searchSavedFilter(user.tenantId, params.id, paging)
        setPageHeaders(set, request.url, paging, { total })
        return devices
      },
      {
        user: true,
        params: M.filterParams,
        query: M.pagingQuery,
        response: { 200: t.Array(M.device) },
        detail: { summary: 'The devices a saved filter matches now' },
      },
    )
    .get(
      '/api/management/v2/inventory/filters/attributes',
      ({ user }) => svc.filterAttributes(user.tenantId),
      {
        user: true,
        response: { 200: t.Array(M.filterAttribute) },
      },
    )
    .get('/api/management/v2/inventory/statistics', ({ user }) => svc.statistics(user.tenantId), {
      user: true,
      response: { 200: M.statistics },
    })
    .post(
      '/api/management/v2alpha1/inventory/identities/search',
      async ({ user, body, request, set }) => {
        const { devices, total, paging } = await svc.searchDevices(user.tenantId, parseIdentitySearch(body))
        setPageHeaders(set, request.url, paging, { total })
        return devices
      },
      { user: true, body: M.identitySearchBody, response: { 200: t.Array(M.device) } },
    )
