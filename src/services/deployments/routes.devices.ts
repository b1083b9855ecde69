import { Elysia, t } from 'elysia'
import type { AuthPlugin, DevicePrincipal } from '../../gateway/auth.ts'
import { DeploymentsModel as M, type NextRequest } from './model.ts'
import type { DeploymentsService } from './service.ts'

const detail = { tags: ['deployments'] }
const nextResponses = { 200: M.instructions, 204: t.Void() }

/** 204 when there is nothing to do; the instructions otherwise. */
async function next(
  svc: DeploymentsService,
  device: DevicePrincipal,
  request: NextRequest,
  set: { status?: number | string },
) {
  const instructions = await svc.nextDeployment(device.tenantId, device.deviceId, request)
  if (instructions === undefined) set.status = 204
  return instructions
}

/** What devices call: the update check (three variants), status reports and the deployment log. */
export const deploymentsDeviceRoutes = (svc: DeploymentsService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/devices', detail })
    .use(auth)
    .post(
      '/v2/deployments/device/deployments/next',
      ({ device, body, set }) => next(svc, device, body.device_provides, set),
      {
        device: true,
        body: M.nextBodyV2,
        response: nextResponses,
        detail: {
          summary: 'Check for an update (v2 body, v1 semantics)',
          description:
            'Answered like the v1 POST, so that a client polling v2 first needs one request, not a 404 and a retry.',
        },
      },
    )
    .post(
      '/v1/deployments/device/deployments/next',
      ({ device, body, set }) => next(svc, device, body, set),
      {
        device: true,
        body: M.nextBody,
        response: nextResponses,
        detail: {
          summary: 'Check for an update',
          description:
            'Body: the device provides, flat (`artifact_name`, `device_type`, other keys ignored).',
        },
      },
    )
    .get(
      '/v1/deployments/device/deployments/next',
      ({ device, query, set }) => next(svc, device, query, set),
      {
        device: true,
        query: M.nextQuery,
        response: nextResponses,
        detail: { summary: 'Check for an update' },
      },
    )
    .put(
      '/v1/deployments/device/deployments/:id/status',
      async ({ device, params, body, set }) => {
        await svc.reportStatus(device.tenantId, device.deviceId, params.id, body.status, body.substate)
        set.status = 204
      },
      {
        device: true,
        params: M.idParams,
        body: M.deviceStatus,
        detail: { summary: 'Report the device deployment status; 409 once aborted or decommissioned' },
      },
    )
    .put(
      '/v1/deployments/device/deployments/:id/log',
      async ({ device, params, body, set }) => {
        await svc.saveLog(device.tenantId, device.deviceId, params.id, body.messages)
        set.status = 204
      },
      {
        device: true,
        params: M.idParams,
        body: M.deviceLog,
        detail: { summary: 'Upload the deployment log' },
      },
    )
