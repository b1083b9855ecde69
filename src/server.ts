import type { Server } from 'bun'
import type { App } from './app.ts'
import { closeDeps, type Deps } from './deps.ts'
import { createStorageProxy } from './storage/proxy.ts'

export type Running = { api: Server<undefined>; storage: Server<undefined>; stop(): Promise<void> }

/** Artifact uploads stream through the API port; JSON routes keep their own 1 MiB limit. */
const MAX_REQUEST_BODY = 16 * 1024 ** 3

// Long artifact downloads and uploads must not be cut by the default 10 s idle timeout.
const IDLE_TIMEOUT_SECONDS = 255

function tlsOptions(deps: Deps) {
  const { tlsCert, tlsKey } = deps.config
  return tlsCert && tlsKey ? { tls: { cert: Bun.file(tlsCert), key: Bun.file(tlsKey) } } : {}
}

/** The storage proxy's server; `port` 0 picks a free one (tests). */
export function serveStorage(deps: Deps, port = deps.config.storagePort): Server<undefined> {
  return Bun.serve({
    port,
    fetch: createStorageProxy(deps),
    // The proxy enforces BENDER_MAX_ARTIFACT_SIZE itself, answering with a Mender error body.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: IDLE_TIMEOUT_SECONDS,
    ...tlsOptions(deps),
  })
}

/**
 * Starts the API server and the storage proxy; `stop` stops both accepting, waits for in-flight
 * requests (bounded), then closes the blob store and the database.
 */
export function startServer(deps: Deps, app: App): Running {
  const { config, log } = deps
  const api = Bun.serve({
    port: config.apiPort,
    fetch: app.fetch,
    maxRequestBodySize: MAX_REQUEST_BODY,
    idleTimeout: IDLE_TIMEOUT_SECONDS,
    ...tlsOptions(deps),
  })
  log.info('API listening', { url: `${api.url}`.replace(/\/$/, ''), public_url: config.publicUrl })
  let storage: Server<undefined>
  try {
    storage = serveStorage(deps)
  } catch (err) {
    api.stop(true)
    throw err
  }
  log.info('storage proxy listening', {
    url: `${storage.url}`.replace(/\/$/, ''),
    public_url: config.storagePublicUrl,
    blob_store: config.storage,
  })
  let stopping: Promise<void> | undefined
  return {
    api,
    storage,
    stop() {
      stopping ??= (async () => {
        const graceMs = config.shutdownGraceSeconds * 1000
        const drained = Promise.all([api.stop(false), storage.stop(false)])
        const timedOut = await Promise.race([drained.then(() => false), Bun.sleep(graceMs).then(() => true)])
        if (timedOut) {
          log.warn('in-flight requests did not finish in time; closing them', {
            grace_seconds: config.shutdownGraceSeconds,
          })
          await Promise.all([api.stop(true), storage.stop(true)])
        }
        closeDeps(deps)
        log.info('stopped')
      })()
      return stopping
    },
  }
}
