import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { internalTenantRoutes, ownTenant, tenantScope } from '../../gateway/tenants.ts'
import type { DeviceconnectService } from './service.ts'

const detail = { tags: ['internal'] }
const provision = t.Object({ device_id: t.String({ format: 'uuid', maxLength: 36 }) })

/**
 * Mender's tenant-scoped routes under `/tenants/:tenantId`, or (not `named`) `/tenants/` for the
 * single tenant (`/tenants//devices`). Like the other services' internal routes that change
 * something, they need a user token and act on that user's tenant only.
 */
function tenantRoutes(svc: DeviceconnectService, auth: AuthPlugin, named: boolean) {
  const { base, tenantParams, deviceParams, commandParams } = tenantScope(named)
  return new Elysia({ detail })
    .use(auth)
    .post(
      `${base}/devices`,
      async ({ user, params, body, set }) => {
        await svc.provisionDevice(ownTenant(user, params), body.device_id)
        set.status = 201
        return ''
      },
      { user: true, ...tenantParams, body: provision, detail: { summary: 'Provision a device' } },
    )
    .delete(
      `${base}/devices/:deviceId`,
      async ({ user, params, set }) => {
        await svc.removeDevice(ownTenant(user, params), params.deviceId)
        set.status = 202
      },
      {
        user: true,
        ...deviceParams,
        detail: { summary: 'Decommission a device (its connection is closed)' },
      },
    )
    .post(
      `${base}/devices/:deviceId/:command`,
      async ({ user, params, set }) => {
        await svc.sendClientCommand(ownTenant(user, params), params.deviceId, params.command, user.userId)
        set.status = 202
      },
      {
        user: true,
        ...commandParams,
        response: { 202: t.Void() },
        detail: { summary: "Asks the device's mender client to check-update or send-inventory now" },
      },
    )
}

/**
 * Mender's internal deviceconnect API (health and alive come with every service's). `shutdown` is
 * not served: in one process it would stop every service, and SIGTERM already does that gracefully.
 */
export const deviceconnectInternalRoutes = (svc: DeviceconnectService, auth: AuthPlugin) =>
  internalTenantRoutes(
    'deviceconnect',
    auth,
    {
      deleteTenant: (tenantId) => svc.deleteTenant(tenantId),
      summary: 'Forget every device and session of the tenant (a named tenant only)',
    },
    (named) => tenantRoutes(svc, auth, named),
  )
