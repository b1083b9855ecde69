import type { Server } from 'bun'
import type { App } from './app.ts'
import type { Deps } from './deps.ts'

export type Running = { api: Server<undefined>; stop(): Promise<void> }

/** Artifact uploads stream through the API port; JSON routes keep their own 1 MiB limit. */
const MAX_REQUEST_BODY = 16 * 1024 ** 3

/**
 * Elysia finds the path by searching for '/' from the 11th character of the URL, which assumes a
 * host of at least four characters: `Host: ota` would lose the first path segment. Such requests
 * get a longer host; everything else passes through untouched.
 */
export function withRoutableHost(request: Request): Request {
  const url = request.url
  if (url.indexOf('/', 8) >= 11) return request
  const pathStart = url.indexOf('/', 8)
  return new Request(`http://localhost${pathStart < 0 ? '/' : url.slice(pathStart)}`, request)
}

function tlsOptions(deps: Deps) {
  const { tlsCert, tlsKey } = deps.config
  return tlsCert && tlsKey ? { tls: { cert: Bun.file(tlsCert), key: Bun.file(tlsKey) } } : {}
}

/** Starts the API server; `stop` stops accepting, waits for in-flight requests (bounded), then closes the database. */
export function startServer(deps: Deps, app: App): Running {
  const { config, log } = deps
  const api = Bun.serve({
    port: config.apiPort,
    fetch: (request) => app.fetch(withRoutableHost(request)),
    maxRequestBodySize: MAX_REQUEST_BODY,
    // Long artifact downloads and uploads must not be cut by the default 10 s idle timeout.
    idleTimeout: 255,
    ...tlsOptions(deps),
  })
  log.info('API listening', { url: `${api.url}`.replace(/\/$/, ''), public_url: config.publicUrl })
  let stopping: Promise<void> | undefined
  return {
    api,
    stop() {
      stopping ??= (async () => {
        const graceMs = config.shutdownGraceSeconds * 1000
        const drained = api.stop(false)
        const timedOut = await Promise.race([drained.then(() => false), Bun.sleep(graceMs).then(() => true)])
        if (timedOut) {
          log.warn('in-flight requests did not finish in time; closing them', {
            grace_seconds: config.shutdownGraceSeconds,
          })
          await api.stop(true)
        }
        deps.db.$client.close()
        log.info('stopped')
      })()
      return stopping
    },
  }
}
