import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { parsePaging } from '../../gateway/paging.ts'
import { created } from '../../gateway/responses.ts'
import { IotManagerModel as M } from './model.ts'
import type { IotManagerService } from './service.ts'

const detail = { tags: ['iot-manager'] }
const PREFIX = '/api/management/v1/iot-manager'

/** Integrations (webhooks), their events, and the device state endpoints of a webhook-only server. */
export const iotManagerManagementRoutes = (svc: IotManagerService, auth: AuthPlugin) =>
  new Elysia({ prefix: PREFIX, detail })
    .use(auth)
    .get(
      '/integrations',
      ({ user, query }) => {
        // Mender pages this list; one integration per tenant makes every page but the first empty.
        const paging = parsePaging(query)
        return paging.page === 1 ? svc.listIntegrations(user.tenantId) : []
      },
      {
        user: true,
        query: t.Object({ page: M.eventsQuery.properties.page, per_page: M.eventsQuery.properties.per_page }),
        response: { 200: t.Array(M.integration) },
        detail: { summary: 'List integrations' },
      },
    )
    .post(
      '/integrations',
      async ({ user, body, set }) =>
        created(set, `${PREFIX}/integrations/${await svc.createIntegration(user.tenantId, body)}`),
      {
        user: true,
        body: M.newIntegration,
        detail: { summary: 'Add a webhook (the iot-hub and iot-core providers are refused)' },
      },
    )
    .get('/integrations/:id', ({ user, params }) => svc.getIntegration(user.tenantId, params.id), {
      user: true,
      params: M.idParams,
      response: { 200: M.integration },
      detail: { summary: 'One integration (the secret is not shown)' },
    })
    .delete(
      '/integrations/:id',
      async ({ user, params, set }) => {
        await svc.deleteIntegration(user.tenantId, params.id)
        set.status = 204
      },
      {
        user: true,
        params: M.idParams,
        detail: { summary: 'Remove an integration and its unsent deliveries' },
      },
    )
    .put(
      '/integrations/:id/credentials',
      async ({ user, params, body, set }) => {
        await svc.setCredentials(user.tenantId, params.id, body)
        set.status = 204
      },
      {
        user: true,
        params: M.idParams,
        body: M.credentials,
        detail: { summary: "Replace the webhook's URL and secret" },
      },
    )
    .get(
      '/events',
      ({ user, query }) => svc.listEvents(user.tenantId, query.integration_id, parsePaging(query)),
      {
        user: true,
        query: M.eventsQuery,
        response: { 200: t.Array(M.event) },
        detail: { summary: 'Recorded events, newest first, with their delivery statuses' },
      },
    )
    .delete(
      '/devices/:deviceId',
      async ({ user, params, set }) => {
        await svc.removeDevice(user.tenantId, params.deviceId)
        set.status = 204
      },
      {
        user: true,
        params: M.deviceParams,
        detail: { summary: "Remove the device's cloud integrations (webhooks have none)" },
      },
    )
    .get('/devices/:deviceId/state', ({ user, params }) => svc.deviceStates(user.tenantId, params.deviceId), {
      user: true,
      params: M.deviceParams,
      detail: { summary: "The device's cloud states: `{}`, webhooks keep none" },
    })
    .get(
      '/devices/:deviceId/state/:integrationId',
      ({ user, params }) => svc.deviceState(user.tenantId, params.deviceId, params.integrationId),
      {
        user: true,
        params: M.deviceStateParams,
        detail: { summary: "One integration's device state: 404, webhooks keep none" },
      },
    )
    .put(
      '/devices/:deviceId/state/:integrationId',
      ({ user, params }) => svc.deviceState(user.tenantId, params.deviceId, params.integrationId),
      {
        user: true,
        params: M.deviceStateParams,
        body: M.deviceState,
        detail: { summary: "Replace one integration's device state: 404, webhooks keep none" },
      },
    )
