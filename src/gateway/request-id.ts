import { Elysia } from 'elysia'

export const REQUEST_ID_HEADER = 'x-men-requestid'

/** Echoes the caller's X-MEN-RequestID or mints a UUID; the error handler and logs read it back. */
export const requestId = new Elysia({ name: 'gateway.request-id' }).onRequest(({ request, set }) => {
  set.headers[REQUEST_ID_HEADER] = request.headers.get(REQUEST_ID_HEADER) || crypto.randomUUID()
})
