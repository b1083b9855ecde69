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

/** The tenant id in an internal path, as its route schemas bound it. */
export const tenantIdParam = t.String({ maxLength: 128 })

/**
 * The tenant part of an internal API: DELETE `/tenants/:tenantId` (a named tenant's data, through
 * `deleteTenant`) and the per-tenant routes `perTenant(named)` makes, mounted once for a named
 * tenant (`/tenants/:tenantId/...`) and once for the single tenant (`/tenants//...`).
 */
export function internalTenantRoutes(
  auth: AuthPlugin,
  deleteTenant: (tenantId: string) => Promise<void>,
  summary: string,
  perTenant: (named: boolean) => AnyElysia,
) {
  return new Elysia({ detail: { tags: ['internal'] } })
    .use(auth)
    .delete(
      '/tenants/:tenantId',
      async ({ user, params, set }) => {
        await deleteTenant(ownTenant(user, params))
        set.status = 204
      },
      { user: true, params: t.Object({ tenantId: tenantIdParam }), detail: { summary } },
    )
    .use(perTenant(true))
    .use(perTenant(false))
}
