import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { internalTenantRoutes, ownTenant } from '../../gateway/tenants.ts'
import type { IotManagerService } from './service.ts'

const detail = { tags: ['internal'] }
const tenantId = t.String({ maxLength: 128 })
const deviceId = t.String({ minLength: 1, maxLength: 128 })
const STATUSES = ['accepted', 'noauth', 'pending', 'preauthorized', 'rejected'] as const
const status = t.Union(STATUSES.map((s) => t.Literal(s)))
const device = t.Object(
  {
    id: deviceId,
    status: t.Optional(status),
    auth_sets: t.Optional(t.Array(t.Record(t.String(), t.Unknown()), { maxItems: 100 })),
    created_ts: t.Optional(t.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
)

/**
 * The per-tenant routes under `/tenants/:tenantId`, or (not `named`) `/tenants/` for the single
 * tenant (`/tenants//devices`). Each announces device events, which reach webhooks as deviceauth's own.
 */
function tenantRoutes(svc: IotManagerService, auth: AuthPlugin, named: boolean) {
  const base = named ? '/tenants/:tenantId' : '/tenants/'
  return new Elysia({ detail })
    .use(auth)
    .post(
      `${base}/devices`,
      async ({ user, params, body, set }) => {
        await svc.announce(ownTenant(user, params), 'device-provisioned', [body])
        set.status = 202
        return ''
      },
      {
        user: true,
        ...(named ? { params: t.Object({ tenantId }) } : {}),
        body: device,
        detail: { summary: 'Announce a provisioned device' },
      },
    )
    .delete(
      `${base}/devices/:deviceId`,
      async ({ user, params, set }) => {
        await svc.announce(ownTenant(user, params), 'device-decommissioned', [{ id: params.deviceId }])
        set.status = 202
      },
      {
        user: true,
        params: named ? t.Object({ tenantId, deviceId }) : t.Object({ deviceId }),
        detail: { summary: 'Announce a decommissioned device' },
      },
    )
    .put(
      `${base}/bulk/devices/status/:status`,
      async ({ user, params, body, set }) => {
        const changed = body.map(({ id }) => ({ id, status: params.status }))
        await svc.announce(ownTenant(user, params), 'device-status-changed', changed)
        set.status = 202
        return ''
      },
      {
        user: true,
        params: named ? t.Object({ tenantId, status }) : t.Object({ status }),
        body: t.Array(t.Object({ id: deviceId }), { maxItems: 100 }),
        detail: { summary: 'Announce status changes of up to 100 devices' },
      },
    )
}

/** Mender's internal iot-manager API (health and alive come with every service's). */
export const iotManagerInternalRoutes = (svc: IotManagerService, auth: AuthPlugin) =>
  internalTenantRoutes(
    'iot-manager',
    auth,
    {
      deleteTenant: (tenantId) => svc.deleteTenant(tenantId),
      summary: "Delete the tenant's integrations and events (a named tenant only)",
    },
    (named) => tenantRoutes(svc, auth, named),
  )
