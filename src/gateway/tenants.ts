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
