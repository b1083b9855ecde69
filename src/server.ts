import { readFileSync } from 'node:fs'
import type { Server, WebSocketHandler } from 'bun'
import { websocket } from 'elysia/ws'
import { type Checkpointer, startCheckpointer } from '../db/checkpointer.ts'
import type { App } from './app.ts'
import { closeDeps, type Deps } from './deps.ts'
import { TRANSFER_IDLE_TIMEOUT_SECONDS } from './gateway/body.ts'
import { withRequestId } from './gateway/request-id.ts'
import { withRequestLimits } from './limits/http.ts'
import { instrument, metricsFor, serveMetrics, withMetrics } from './metrics/http.ts'
import type { Metrics } from './metrics/metrics.ts'
import { createStorageProxy, type UploadGate } from './storage/proxy.ts'
import { downloadsCapped } from './storage/throttle.ts'

/** The storage proxy's listener, whichever HTTP server runs it. */
export type StorageServer = { port: number; stop(force: boolean): Promise<void> }

export type Running = { api: Server<undefined>; storage: StorageServer; stop(): Promise<void> }

/** How long after listening the database checkpointer starts. */
const CHECKPOINTER_DELAY_MS = 1000

/** Artifact uploads stream through the API port; JSON routes keep their own 1 MiB limit. */
const MAX_REQUEST_BODY = 16 * 1024 ** 3

/**
 * Elysia finds the path by searching for '/' from the 11th character of the URL, which assumes a
 * host of at least four characters: `Host: ota` would lose the first path segment. Such requests
 * get a longer host; everything else passes through untouched.
 */
function withRoutableHost(request: Request): Request {
  const url = request.url
  if (url.indexOf('/', 8) >= 11) return request
  const pathStart = url.indexOf('/', 8)
  return new Request(`http://localhost${pathStart < 0 ? '/' : url.slice(pathStart)}`, request)
}

/**
 * TLS 1.2 suites with forward secrecy and authenticated encryption only (Mozilla's "intermediate"
 * list); TLS 1.3 has nothing else. Static-RSA key exchange and CBC suites are refused.
 */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

/**
 * Websockets (deviceconnect): Bun pings a connection silent for 30 s and closes it when it stays
 * silent 30 s more: Mender's keepalive (a ping every 30 s, dropped after 60 s of silence) without a
 * timer per connection. mender-connect reads messages of at most 8 KiB and sends none larger than a
 * 4 KiB chunk plus its envelope; 64 KiB leaves room for any client.
 */
const WEBSOCKET_OPTIONS = { idleTimeout: 30, sendPings: true, maxPayloadLength: 64 * 1024 }

function tlsOptions(deps: Deps) {
  const { tlsCert, tlsKey } = deps.config
  return tlsCert && tlsKey
    ? { tls: { cert: Bun.file(tlsCert), key: Bun.file(tlsKey), ciphers: TLS_CIPHERS } }
    : {}
}

/**
 * Starts the storage proxy; `port` 0 picks a free one (tests). Disk downloads are file slices,
 * which Bun.serve sends with sendfile and their exact length. S3 downloads are streams, whose
 * Content-Length Bun.serve would drop (see node-http.ts), so with S3 the proxy runs on node:http.
 */
export async function serveStorage(
  deps: Deps,
  port = deps.config.storagePort,
  uploads?: UploadGate,
  metrics?: Metrics,
): Promise<StorageServer> {
  const bare = createStorageProxy(deps, uploads)
  const proxy = metrics ? instrument(metrics, bare, 'storage') : bare
  const { tlsCert, tlsKey } = deps.config
  // Capped downloads are streams too: they pass through the gate rather than going out by sendfile.
  if (deps.config.storage === 's3' || downloadsCapped(deps.config)) {
    const tls =
      tlsCert && tlsKey
        ? {
            cert: readFileSync(tlsCert, 'utf8'),
            key: readFileSync(tlsKey, 'utf8'),
            ciphers: TLS_CIPHERS,
            minVersion: 'TLSv1.2' as const,
          }
        : undefined
    // node:http is loaded only here: it is a large share of start-up, and the default needs none of it.
    const { serveOverNodeHttp } = await import('./storage/node-http.ts')
    return serveOverNodeHttp(proxy, { port, tls, idleTimeoutSeconds: TRANSFER_IDLE_TIMEOUT_SECONDS })
  }
  const server = Bun.serve({
    port,
    fetch: proxy,
    // The proxy enforces BENDER_MAX_ARTIFACT_SIZE itself, answering with a Mender error body.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: TRANSFER_IDLE_TIMEOUT_SECONDS,
    ...tlsOptions(deps),
  })
  return { port: server.port!, stop: (force) => server.stop(force) }
}

/**
 * Starts the API server and the storage proxy; `stop` stops both accepting, waits for in-flight
 * requests (bounded), runs `beforeClose` (services write what they buffer), then closes the blob
 * store and the database.
 */
export async function startServer(
  deps: Deps,
  app: App,
  beforeClose: () => void | Promise<void> = () => {},
  uploads?: UploadGate,
): Promise<Running> {
  const { config, log } = deps
  const metrics = await metricsFor(config, deps.database)
  const handler = withRequestLimits(
    config,
    withRequestId((request: Request) => app.fetch(withRoutableHost(request))),
  )
  const api = Bun.serve({
    port: config.apiPort,
    fetch: metrics ? withMetrics(metrics, handler, config.metricsToken) : handler,
    maxRequestBodySize: MAX_REQUEST_BODY,
    idleTimeout: config.idleTimeoutSeconds,
    // Elysia's handlers, typed against its own copy of Bun's websocket types.
    websocket: { ...(websocket as unknown as WebSocketHandler<undefined>), ...WEBSOCKET_OPTIONS },
    ...tlsOptions(deps),
  })
  // Elysia hands routes `server` (for the client's address, and to upgrade websockets) only when it
  // started the server itself.
  app.server = api as unknown as typeof app.server
  log.info('API listening', { url: `${api.url}`.replace(/\/$/, ''), public_url: config.publicUrl })
  let storage: StorageServer
  try {
    storage = await serveStorage(deps, config.storagePort, uploads, metrics)
  } catch (err) {
    api.stop(true)
    metrics?.stop()
    throw err
  }
  let metricsServer: Server<undefined> | undefined
  if (metrics && config.metricsPort) {
    try {
      metricsServer = serveMetrics(metrics, config)
    } catch (err) {
      api.stop(true)
      await storage.stop(true)
      metrics.stop()
      throw err
    }
    log.info('metrics listening', { url: `${metricsServer.url}metrics` })
  }
  // SQLite's WAL is copied into the file off the request thread; PostgreSQL checkpoints itself.
  // Creating the worker holds this thread for tens of milliseconds: the checkpointer starts once
  // the first requests have had their turn (its first checkpoint came a second in before too).
  const sqlite = deps.database.sqlite
  let checkpointer: Checkpointer | undefined
  const checkpointerStart =
    sqlite &&
    setTimeout(() => {
      checkpointer = startCheckpointer(sqlite, {
        onError: (error) => log.error('checkpointing the database failed; will retry', { error }),
        onCatchUp: (ms) => log.debug('WAL copied up to date; it starts over', { ms: Math.round(ms) }),
      })
    }, CHECKPOINTER_DELAY_MS)
  log.info('storage proxy listening', {
    port: storage.port,
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
        metricsServer?.stop(true)
        // The services' last writes (the check-in flush) come before the metrics worker lets its
        // connection go: a connection closing runs a checkpoint of its own, which a write beside it
        // can find the database locked by.
        await beforeClose()
        metrics?.stop()
        clearTimeout(checkpointerStart)
        await checkpointer?.stop()
        await closeDeps(deps)
        log.info('stopped')
      })()
      return stopping
    },
  }
}
