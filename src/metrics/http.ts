import { timingSafeEqual } from 'node:crypto'
import type { Server } from 'bun'
import type { Config } from '../config.ts'
import type { DatabaseHandle } from '../engine.ts'
import type { Metrics } from './metrics.ts'

/** A fetch handler; `A` is what else the server passes (Bun.serve: the server). */
type Handler<A extends unknown[]> = (request: Request, ...rest: A) => Response | Promise<Response>

/** Metrics exist only when they can be read: on their own port, or behind a token on the API port. */
export async function metricsFor(
  config: Config,
  database: Pick<DatabaseHandle, 'metricsSource'>,
): Promise<Metrics | undefined> {
  if (!config.metricsPort && !config.metricsToken) return undefined
  // prom-client is loaded only when metrics are on: it costs start-up time.
  const { createMetrics } = await import('./metrics.ts')
  return createMetrics(await database.metricsSource())
}

/** The path of a request URL without its query, cut from the string (no URL object per request). */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start < 0) return '/'
  const query = url.indexOf('?', start)
  return url.slice(start, query < 0 ? undefined : query)
}

/** Counts every answer of `handler`; `group` names a whole server (the storage proxy). */
export function instrument<A extends unknown[]>(
  metrics: Metrics,
  handler: Handler<A>,
  group?: string,
): (request: Request, ...rest: A) => Promise<Response> {
  return async (request, ...rest) => {
    const started = performance.now()
    const response = await handler(request, ...rest)
    const seconds = (performance.now() - started) / 1000
    metrics.observe(request.method, pathOf(request.url), response.status, seconds, group)
    return response
  }
}

async function exposition(metrics: Metrics): Promise<Response> {
  return new Response(await metrics.render(), { headers: { 'content-type': metrics.contentType } })
}

function bearerMatches(header: string | null, token: string): boolean {
  const given = Buffer.from(header ?? '')
  const expected = Buffer.from(`Bearer ${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * The API's fetch with metrics: every answer counted, and `GET /metrics` answered when a token is
 * configured and presented (401 otherwise; without a token the path is the app's, i.e. a 404).
 */
export function withMetrics<A extends unknown[]>(
  metrics: Metrics,
  handler: Handler<A>,
  token: string | undefined,
): Handler<A> {
  const counted = instrument(metrics, handler)
  if (!token) return counted
  return (request, ...rest) => {
    if (pathOf(request.url) !== '/metrics') return counted(request, ...rest)
    if (!bearerMatches(request.headers.get('authorization'), token)) {
      return new Response(JSON.stringify({ error: 'unauthorized' }), {
        status: 401,
        headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="metrics"' },
      })
    }
    return exposition(metrics)
  }
}

/** The metrics listener on BENDER_METRICS_PORT: `/metrics` only, no authentication (keep the port private). */
export function serveMetrics(metrics: Metrics, config: Config, port = config.metricsPort): Server<undefined> {
  return Bun.serve({
    port,
    hostname: config.metricsHost,
    fetch: (request) =>
      pathOf(request.url) === '/metrics' ? exposition(metrics) : new Response('not found', { status: 404 }),
  })
}
