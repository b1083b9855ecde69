import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { organizationOf } from './organization.ts'

const addon = t.Object({ name: t.String(), enabled: t.Boolean() })

/**
 * The one tenant-admin route Mender's web GUI needs from an open-source server: with the GUI's
 * multitenancy switch on it asks for the caller's organization, and shows the configure and
 * troubleshoot pages only when the add-ons listed here are enabled.
 */
export const organizationRoutes = (auth: AuthPlugin, name: string) =>
  new Elysia({ prefix: '/api/management/v1/tenantadm', detail: { tags: ['useradm'] } })
    .use(auth)
    .get('/user/tenant', ({ user }) => organizationOf(user.tenantId, name), {
      user: true,
      response: {
        200: t.Object({
          id: t.String(),
          name: t.String(),
          status: t.String(),
          tenant_token: t.String(),
          plan: t.String(),
          addons: t.Array(addon),
          trial: t.Boolean(),
        }),
      },
      detail: { summary: "The caller's organization: its plan and the add-ons bender implements" },
    })
