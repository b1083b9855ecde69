import { Elysia, t } from 'elysia'
import type { Config } from '../config.ts'
import { NotFoundError } from '../gateway/errors.ts'
import { ASSET_PREFIX, type ConsoleBundle, type ConsoleFile } from './bundle.ts'

/**
 * The page may run only its own bundled script and style, and talk only to the API (same origin)
 * and the storage proxy (direct uploads). No inline script, no eval, no framing.
 */
export function contentSecurityPolicy(config: Pick<Config, 'storagePublicUrl'>): string {
  const storage = new URL(config.storagePublicUrl).origin
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${storage}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

function send(file: ConsoleFile, request: Request, headers: Record<string, string>): Response {
  const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
  return new Response(gzip ? file.gzip : file.body, {
    headers: {
      'content-type': file.type,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...headers,
    },
  })
}

/**
 * The console at `/` (pages are addressed by the URL fragment, so `/` is its only page) and its
 * hashed assets, cached for good. The bundle is loaded on the first request, not at start.
 */
export function consoleRoutes(config: Pick<Config, 'storagePublicUrl'>, load: () => Promise<ConsoleBundle>) {
  let bundle: Promise<ConsoleBundle> | undefined
  const loaded = () => {
    bundle ??= load().catch((err) => {
      bundle = undefined
      throw err
    })
    return bundle
  }
  const pageHeaders = {
    'content-security-policy': contentSecurityPolicy(config),
    'cache-control': 'no-cache',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  }
  return new Elysia({ name: 'console' })
    .get('/', async ({ request }) => send((await loaded()).index, request, pageHeaders), {
      detail: { hide: true },
    })
    .get(
      `${ASSET_PREFIX}:name`,
      async ({ request, params }) => {
        const file = (await loaded()).assets.get(params.name)
        if (!file) throw new NotFoundError()
        return send(file, request, { 'cache-control': 'public, max-age=31536000, immutable' })
      },
      { params: t.Object({ name: t.String({ maxLength: 128 }) }), detail: { hide: true } },
    )
}
