/**
 * The organization a signed-in user belongs to, as Mender's tenant admin service shows it. bender
 * serves one organization per tenant with every add-on it implements switched on: configure
 * (deviceconfig) and troubleshoot (deviceconnect). Monitor is off: bender has no monitoring
 * service, and a GUI told otherwise would ask for it. The same plan and add-ons go into every user
 * token (`mender.plan`, `mender.addons`, `mender.trial`): Mender's GUI compares the two and warns
 * when they differ.
 */
export const ORGANIZATION_PLAN = 'os'
export const ORGANIZATION_ADDONS = [
  { name: 'configure', enabled: true },
  { name: 'troubleshoot', enabled: true },
  { name: 'monitor', enabled: false },
] as const

/**
 * Every bender user may do everything (bender has no role-based access control); this is Mender's
 * name for that role, listed on each user so the GUI in multitenancy mode treats them as admins.
 */
export const ADMIN_ROLE = 'RBAC_ROLE_PERMIT_ALL'

/** The claims a user token carries about its organization. */
export const organizationClaims = () => ({
  'mender.plan': ORGANIZATION_PLAN,
  'mender.addons': ORGANIZATION_ADDONS.map((addon) => ({ ...addon })),
  'mender.trial': false,
})

/** Mender's `GET /tenantadm/user/tenant` answer for the caller's tenant ('' is the default one). */
export function organizationOf(tenantId: string, name: string) {
  return {
    id: tenantId,
    name,
    status: 'active',
    tenant_token: '',
    plan: ORGANIZATION_PLAN,
    addons: ORGANIZATION_ADDONS.map((addon) => ({ ...addon })),
    trial: false,
  }
}
