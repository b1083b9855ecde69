import { Elysia } from 'elysia'
import { RAW_BODY_PARSER, rawBodyParser, rawBytes } from '../../gateway/body.ts'
import { jwtResponse } from '../../gateway/responses.ts'
import type { DeviceauthService } from './service.ts'

export const deviceauthDeviceRoutes = (svc: DeviceauthService, bodyTimeoutMs: number) =>
  new Elysia({ prefix: '/api/devices/v1/authentication', detail: { tags: ['deviceauth'] } })
    .use(rawBodyParser(bodyTimeoutMs))
    .post(
      '/auth_requests',
      // The signature covers the exact request bytes, so the body arrives unparsed.
      async ({ body, request }) =>
        jwtResponse(
          await svc.submitAuthRequest(rawBytes(body), request.headers.get('x-men-signature') ?? undefined),
        ),
      {
        parse: RAW_BODY_PARSER,
        detail: {
          summary: 'Authenticate a device; answers the raw JWT once the device is accepted',
          description:
            'Body: `{"id_data": "<identity JSON>", "pubkey": "<PEM>", "tenant_token": ""}`, signed with the ' +
            'device key in `X-MEN-Signature`. Unknown, pending and rejected devices get 401.',
        },
      },
    )
