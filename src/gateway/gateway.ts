import { Elysia, type ValidationError } from 'elysia'
import type { Logger } from '../log.ts'
import { bodyParser } from './body.ts'
import { ApiError, asApiError, errorResponse, ServerStateError } from './errors.ts'
import { REQUEST_ID_HEADER, requestId } from './request-id.ts'
import type { RouteIndex } from './routes.ts'

function describeValidation(error: Pick<ValidationError, 'type' | 'valueError' | 'customError'>): string {
  // A schema's own `error` is the service's wording of that limit (Mender's messages): sent as it is.
  if (typeof error.customError === 'string') return error.customError
  const detail = error.valueError
  const where = detail?.path ? detail.path.replace(/^\//, '').replaceAll('/', '.') : ''
  const what = detail?.message ?? 'invalid value'
  switch (error.type) {
    case 'body':
      return `failed to decode request body: ${where ? `${where}: ` : ''}${what}`
    case 'query':
      return `invalid query parameter${where ? ` "${where}"` : ''}: ${what}`
    case 'params':
      return `invalid path parameter${where ? ` "${where}"` : ''}: ${what}`
    case 'headers':
      return `invalid header${where ? ` "${where}"` : ''}: ${what}`
    default:
      return what
  }
}

/**
 * The one error handler: typed errors keep their status and message, framework errors map to
 * Mender's wording, and anything else is a 500 whose cause is logged but never sent.
 */
function errorHandler(log: Logger, routes: RouteIndex) {
  return new Elysia({ name: 'gateway.errors' }).onError(
    { as: 'global' },
    ({ code, error, set, request, path }) => {
      const requestId = set.headers[REQUEST_ID_HEADER] as string | undefined
      // The body parser's own errors reach us wrapped in Elysia's ParseError.
      const failure = asApiError(code === 'PARSE' && error.cause instanceof ApiError ? error.cause : error)
      if (failure) {
        if (failure instanceof ServerStateError) {
          log.error(failure.message, {
            request_id: requestId,
            method: request.method,
            path,
            ...failure.logFields,
          })
        }
        return errorResponse(failure.status, failure.message, requestId, failure.extra, failure.headers)
      }
      switch (code) {
        case 'NOT_FOUND': {
          const allowed = routes.methodsFor(path)
          if (allowed.length === 0) return errorResponse(404, 'not found', requestId)
          if (request.method === 'OPTIONS') {
            return new Response(null, {
              status: 200,
              headers: {
                allow: allowed.join(', '),
                ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}),
              },
            })
          }
          return errorResponse(405, 'method not allowed', requestId, undefined, { allow: allowed.join(', ') })
        }
        case 'VALIDATION':
          if (
            error.type === 'body' &&
            request.headers.get('content-type')?.toLowerCase().startsWith('multipart/')
          ) {
            return errorResponse(415, "Bad Content-Type, expected 'application/json'", requestId)
          }
          return errorResponse(400, describeValidation(error), requestId)
        case 'PARSE':
          return errorResponse(400, 'failed to decode request body', requestId)
      }
      // `throw status(...)` from Elysia itself: keep the status and its text.
      if (typeof code === 'number') {
        const response = (error as { response?: unknown }).response
        return errorResponse(code, typeof response === 'string' ? response : 'request failed', requestId)
      }
      log.error('internal error', { request_id: requestId, method: request.method, path, err: error })
      return errorResponse(500, 'internal error', requestId)
    },
  )
}

/** Debug-level access lines, registered only when debug logging is on (the hot path pays nothing). */
function accessLog(log: Logger) {
  return new Elysia({ name: 'gateway.access-log' }).onAfterResponse(
    { as: 'global' },
    ({ request, set, path, responseValue }) => {
      log.debug('request', {
        request_id: set.headers[REQUEST_ID_HEADER],
        method: request.method,
        path,
        status: responseValue instanceof Response ? responseValue.status : set.status,
      })
    },
  )
}

/**
 * Headers every API response carries: no content sniffing, nothing kept by caches (responses are
 * per user or device, and carry tokens), and with TLS, HSTS (a year; browsers then never try
 * plain HTTP on this host).
 */
function securityHeaders(tls: boolean) {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...(tls ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  }
  return new Elysia({ name: 'gateway.security-headers' }).onRequest(({ set }) => {
    Object.assign(set.headers, headers)
  })
}

/** Everything used before any route: request id, security headers, body parsing and limits, errors, access log. */
export function gateway(
  log: Logger,
  routes: RouteIndex,
  options: { tls: boolean; bodyTimeoutMs: number } = { tls: false, bodyTimeoutMs: 30_000 },
) {
  const app = new Elysia({ name: 'gateway' })
    .use(requestId)
    .use(securityHeaders(options.tls))
    .use(bodyParser(routes, options.bodyTimeoutMs))
    .use(errorHandler(log, routes))
  return log.enabled('debug') ? app.use(accessLog(log)) : app
}
