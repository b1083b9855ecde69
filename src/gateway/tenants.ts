import { type AnyElysia, Elysia, t } from 'elysia'
import type { AuthPlugin } from './auth.ts'
import { ForbiddenError } from './errors.ts'

/**
 * The tenant named in an internal path (`/tenants/{tenantId}/...`), which must be the caller's own.
 * Mender leaves its internal API unauthenticated behind its gateway; bender serves it on its one
 * public port, so internal routes that change anything need a user token and act on that user's
 * tenant only. The single tenant's id is the empty string: its paths read `/tenants//devices`, as
 * Mender's workflows spell them, and have no tenant parameter.
 */
export function ownTenant(user: { tenantId: string }, params: unknown): string {
  const named = (params as { tenantId?: string } | undefined)?.tenantId ?? ''
  if (named !== user.tenantId) throw new ForbiddenError('forbidden: not your tenant')
  return user.tenantId
}

const tenantId = t.String({ maxLength: 128 })
const deviceId = t.String({ minLength: 1, maxLength: 128 })
/** A client command as Mender's internal paths name it. */
const command = t.Union([t.Literal('check-update'), t.Literal('send-inventory')])

/**
 * The path prefix and parameter schemas of the internal routes under `/tenants/:tenantId`, or (not
 * `named`) under `/tenants/` for the single tenant, whose paths read `/tenants//devices`.
 */
export function tenantScope(named: boolean) {
  return named
    ? {
        base: '/tenants/:tenantId',
        tenantParams: { params: t.Object({ tenantId }) },
        deviceParams: { params: t.Object({ tenantId, deviceId }) },
        commandParams: { params: t.Object({ tenantId, deviceId, command }) },
      }
    : {
        base: '/tenants/',
        tenantParams: {},
        deviceParams: { params: t.Object({ deviceId }) },
        commandParams: { params: t.Object({ deviceId, command }) },
      }
}

/**
 * A service's internal API under `/api/internal/v1/<service>`: `DELETE /tenants/:tenantId` (a named
 * tenant, the caller's own) calling `deleteTenant`, and the per-tenant routes `scoped` makes, once
 * for a named tenant and once for the single tenant's `/tenants/` spelling.
 */
export function internalTenantRoutes(
  service: string,
  auth: AuthPlugin,
  tenant: { deleteTenant(tenantId: string): Promise<void>; summary: string },
  scoped: (named: boolean) => AnyElysia,
) {
  return new Elysia({ prefix: `/api/internal/v1/${service}`, detail: { tags: ['internal'] } })
    .use(auth)
    .delete(
      '/tenants/:tenantId',
      async ({ user, params, set }) => {
        await tenant.deleteTenant(ownTenant(user, params))
        set.status = 204
      },
      { user: true, params: t.Object({ tenantId }), detail: { summary: tenant.summary } },
    )
    .use(scoped(true))
    .use(scoped(false))
}
