import type { Server } from 'bun'
import type { App } from './app.ts'
import type { Deps } from './deps.ts'

export type Running = { api: Server<undefined>; stop(): Promise<void> }

/** Artifact uploads stream through the API port; JSON routes keep their own 1 MiB limit. */
const MAX_REQUEST_BODY = 16 * 1024 ** 3

function tlsOptions(deps: Deps) {
  const { tlsCert, tlsKey } = deps.config
  return tlsCert && tlsKey ? { tls: { cert: Bun.file(tlsCert), key: Bun.file(tlsKey) } } : {}
}

/**
 * Starts the API server; `stop` stops accepting, waits for in-flight requests (bounded), runs
 * `beforeClose` (services write what they buffer) and closes the database.
 */
export function startServer(deps: Deps, app: App, beforeClose: () => void = () => {}): Running {
  const { config, log } = deps
  const api = Bun.serve({
    port: config.apiPort,
    fetch: app.fetch,
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
        beforeClose()
        deps.db.$client.close()
        log.info('stopped')
      })()
      return stopping
    },
  }
}
