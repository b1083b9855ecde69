import { once } from 'node:events'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { SecureContextOptions } from 'node:tls'

export type FetchHandler = (request: Request) => Promise<Response>

export type NodeServed = { port: number; stop(force: boolean): Promise<void> }

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers()
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  return new Request(new URL(req.url ?? '/', 'http://localhost').href, {
    method: req.method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  })
}

async function respond(handler: FetchHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController()
  // The client went away before the whole request arrived, or before the reply was sent.
  req.once('close', () => {
    if (!req.complete) gone.abort()
  })
  res.once('close', () => {
    if (!res.writableFinished) gone.abort()
  })
  const response = await handler(toRequest(req, gone.signal))
  res.writeHead(response.status, [...response.headers].flat())
  if (!response.body || req.method === 'HEAD') {
    await response.body?.cancel()
    res.end()
    return
  }
  const reader = response.body.getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      if (!res.write(value)) await once(res, 'drain', { signal: gone.signal })
    }
    res.end()
  } catch {
    res.destroy()
  } finally {
    // Stops the blob store read (an S3 GET) when the client went away midway.
    await reader.cancel().catch(() => {})
  }
}

/**
 * Serves a fetch handler over node:http. Bun.serve drops a handler's Content-Length on streamed
 * bodies and sends them chunked (oven-sh/bun#10507), and the mender client refuses a download
 * without a length; node:http sends the headers as given.
 */
export async function serveOverNodeHttp(
  handler: FetchHandler,
  options: { port: number; idleTimeoutSeconds: number; tls?: SecureContextOptions },
): Promise<NodeServed> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    respond(handler, req, res).catch(() => res.destroy())
  }
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createHttpServer(listener)
  // Node's defaults cut any request that takes over five minutes to arrive (a large upload would)
  // and never drop a silent connection; match Bun.serve's idle timeout instead.
  server.requestTimeout = 0
  server.timeout = options.idleTimeoutSeconds * 1000
  server.listen(options.port)
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    async stop(force) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if (force) server.closeAllConnections()
      else server.closeIdleConnections()
      await closed
    },
  }
}
