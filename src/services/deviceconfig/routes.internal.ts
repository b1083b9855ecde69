import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { internalTenantRoutes, ownTenant } from '../../gateway/tenants.ts'
import { DeviceconfigModel as M } from './model.ts'
import type { DeviceconfigService } from './service.ts'

const detail = { tags: ['internal'] }

const tenantId = t.String({ maxLength: 128 })
const deviceId = t.String({ maxLength: 128 })

/**
 * The per-device routes under `/tenants/:tenantId`, or (not `named`) under `/tenants/` for the
 * single tenant, whose id is the empty string (`/tenants//devices`, as Mender's workflows spell it).
 */
function tenantRoutes(svc: DeviceconfigService, auth: AuthPlugin, named: boolean) {
  const base = named ? '/tenants/:tenantId' : '/tenants/'
  const params = named
    ? { tenant: { params: t.Object({ tenantId }) }, device: { params: t.Object({ tenantId, id: deviceId }) } }
    : { tenant: {}, device: { params: t.Object({ id: deviceId }) } }
  return new Elysia({ detail })
    .use(auth)
    .post(
      `${base}/devices`,
      async ({ user, params, body, set }) => {
        await svc.provisionDevice(ownTenant(user, params), body.device_id)
        set.status = 201
        return ''
      },
      { user: true, ...params.tenant, body: M.newDevice, detail: { summary: 'Provision a device' } },
    )
    .delete(
      `${base}/devices/:id`,
      async ({ user, params, set }) => {
        await svc.decommissionDevice(ownTenant(user, params), params.id)
        set.status = 204
      },
      { user: true, ...params.device, detail: { summary: 'Decommission a device' } },
    )
    .post(
      `${base}/configurations/device/:id/deploy`,
      ({ user, params, body }) => svc.deploy(ownTenant(user, params), params.id, body),
      {
        user: true,
        ...params.device,
        body: M.deploy,
        response: { 200: M.deployed },
        detail: { summary: "Deploy the device's configuration" },
      },
    )
}

/** Mender's internal deviceconfig API (health and alive come with every service's). */
export const deviceconfigInternalRoutes = (svc: DeviceconfigService, auth: AuthPlugin) =>
  internalTenantRoutes(
    'deviceconfig',
    auth,
    {
      deleteTenant: (tenantId) => svc.deleteTenant(tenantId),
      summary: 'Delete every device configuration of the tenant (a named tenant only)',
    },
    (named) => tenantRoutes(svc, auth, named),
  ).post(
    '/tenants',
    ({ user, body, set }) => {
      ownTenant(user, { tenantId: body.tenant_id })
      // Nothing to prepare: a tenant's configurations live in the shared tables.
      set.status = 201
      return ''
    },
    { user: true, body: M.newTenant, detail: { summary: 'Provision a tenant (nothing to prepare)' } },
  )
