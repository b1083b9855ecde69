import { Elysia } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { DeviceconfigModel as M } from './model.ts'
import type { DeviceconfigService } from './service.ts'

const detail = { tags: ['deviceconfig'] }

/** The operator's side: a device's configuration, replacing it, deploying it. */
export const deviceconfigManagementRoutes = (svc: DeviceconfigService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v1/deviceconfig/configurations', detail })
    .use(auth)
    .get('/device/:id', ({ user, params }) => svc.getDevice(user.tenantId, params.id), {
      user: true,
      params: M.deviceParams,
      response: { 200: M.device },
      detail: { summary: "The device's configured and reported configuration" },
    })
    .put(
      '/device/:id',
      async ({ user, params, body, set }) => {
        await svc.setConfiguration(user.tenantId, params.id, body)
        set.status = 204
      },
      {
        user: true,
        params: M.deviceParams,
        body: M.attributes,
        detail: { summary: "Replace the device's configured configuration" },
      },
    )
    .post('/device/:id/deploy', ({ user, params, body }) => svc.deploy(user.tenantId, params.id, body), {
      user: true,
      params: M.deviceParams,
      body: M.deploy,
      response: { 200: M.deployed },
      detail: { summary: 'Deploy the configured configuration to the device (a configuration deployment)' },
    })
