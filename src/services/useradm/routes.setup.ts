import { Elysia, t } from 'elysia'
import { created } from '../../gateway/responses.ts'
import type { FirstRunSetup } from './setup.ts'

const detail = { tags: ['useradm'] }

/** bender's own first-run setup (not in Mender): no token needed, the one-time setup token is the credential. */
export const useradmSetupRoutes = (setup: FirstRunSetup) =>
  new Elysia({ prefix: '/api/management/v1/useradm/setup', detail })
    .get('', async () => ({ required: await setup.required() }), {
      response: { 200: t.Object({ required: t.Boolean() }) },
      detail: { summary: 'Whether the first user still has to be created' },
    })
    .post(
      '',
      async ({ body, set }) => {
        const user = await setup.createFirstUser(body.token, { email: body.email, password: body.password })
        return created(set, `/api/management/v1/useradm/users/${user.id}`)
      },
      {
        body: t.Object({
          token: t.String({ maxLength: 128, description: 'The token of the setup link the server logged.' }),
          email: t.String({ maxLength: 256 }),
          password: t.String({ maxLength: 256 }),
        }),
        detail: { summary: 'Create the first user with the one-time setup token' },
      },
    )
