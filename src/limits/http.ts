import type { Server } from 'bun'
import type { Config } from '../config.ts'
import { clientAddress } from '../gateway/client-address.ts'
import { errorResponse } from '../gateway/errors.ts'
import { requestIdFor } from '../gateway/request-id.ts'
import { createRateLimiter, type RateLimiter } from './buckets.ts'

type Handler = (request: Request, server: Server<undefined>) => Response | Promise<Response>

const DEVICE_PREFIX = '/api/devices/'

/** The device token of a device request, unverified: only a key for its bucket. */
function deviceToken(request: Request): string | undefined {
  const url = request.url
  const pathStart = url.indexOf('/', url.indexOf('//') + 2)
  if (!url.startsWith(DEVICE_PREFIX, pathStart)) return undefined
  const header = request.headers.get('authorization')
  // "Bearer " alone is the auth request's: no device yet, so it counts against its client.
  return header && header.length > 7 && header.startsWith('Bearer ') ? header.slice(7) : undefined
}

function tooMany(request: Request, who: string, seconds: number): Response {
  return errorResponse(
    429,
    `too many requests from this ${who}, try again later`,
    requestIdFor(request),
    undefined,
    {
      'retry-after': String(Math.max(1, Math.ceil(seconds))),
    },
  )
}

/**
 * Request limits, checked before the request reaches the app (so before any token or signature
 * check and any body parsing): a request bearing a device token counts against that token (one
 * device), every other request against its client's IP address. Over the limit: 429 with
 * Retry-After. Either limit is off at 0.
 */
export function withRequestLimits(config: Config, handler: Handler, now = Date.now): Handler {
  const { deviceRateLimit, clientRateLimit } = config
  if (!deviceRateLimit && !clientRateLimit) return handler
  const devices: RateLimiter | undefined = deviceRateLimit ? createRateLimiter(deviceRateLimit) : undefined
  const clients: RateLimiter | undefined = clientRateLimit ? createRateLimiter(clientRateLimit) : undefined
  return (request, server) => {
    const token = deviceToken(request)
    if (token !== undefined) {
      const wait = devices?.take(token, now()) ?? 0
      if (wait > 0) return tooMany(request, 'device', wait)
      return handler(request, server)
    }
    if (clients) {
      const wait = clients.take(clientAddress(request, server, config.trustedProxies), now())
      if (wait > 0) return tooMany(request, 'client', wait)
    }
    return handler(request, server)
  }
}
