import { Elysia } from 'elysia'
import { currentLogFields, withLogFields } from '../log.ts'

export const REQUEST_ID_HEADER = 'x-men-requestid'

/** The caller's X-MEN-RequestID, or a new UUID. */
export const requestIdFor = (request: Request) =>
  request.headers.get(REQUEST_ID_HEADER) || crypto.randomUUID()

/**
 * Runs a server's handler for one request with its request id on every log line written meanwhile
 * (see withLogFields), services' lines included.
 */
export const withRequestId =
  <T>(handler: (request: Request) => T) =>
  (request: Request): T =>
    withLogFields({ request_id: requestIdFor(request) }, () => handler(request))

/**
 * Sets X-MEN-RequestID on the answer: the id withRequestId chose, else (an app driven without the
 * server, as in tests) the caller's or a new one. The error handler and logs read it back.
 */
export const requestId = new Elysia({ name: 'gateway.request-id' }).onRequest(({ request, set }) => {
  set.headers[REQUEST_ID_HEADER] =
    (currentLogFields()?.request_id as string | undefined) ?? requestIdFor(request)
})
