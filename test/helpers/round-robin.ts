import type { ServerWebSocket } from 'bun'

/** A load balancer for the tests: each request (and each websocket) goes to the next upstream in turn. */
export type RoundRobin = {
  url: string
  /** How many requests and websockets each upstream got, in upstream order. */
  counts(): number[]
  stop(): void
}

type Relay = {
  target: string
  headers: Headers
  upstream?: WebSocket
  queued: (string | Buffer)[]
  open: boolean
}

/** Hop-by-hop headers a proxy does not pass on (RFC 9110 7.6.1), and what fetch sets itself. */
const HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length']

/** A close code one may send on (1005, 1006 and 1015 only describe what happened). */
const sendable = (code: number) =>
  code >= 3000 || [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011].includes(code) ? code : 1000

/**
 * Listens on a free loopback port and spreads requests over `upstreams` (base URLs) round-robin:
 * plain HTTP is forwarded with fetch (bodies streamed both ways, redirects passed back as they
 * are), websockets are opened to the chosen upstream with the client's headers and relayed frame
 * by frame, closes included.
 */
export function startRoundRobin(upstreams: string[]): RoundRobin {
  let next = 0
  const counts = upstreams.map(() => 0)
  const pick = () => {
    const i = next++ % upstreams.length
    counts[i]!++
    return upstreams[i]!
  }
  const forwardHeaders = (headers: Headers) => {
    const out = new Headers(headers)
    for (const name of HOP) out.delete(name)
    return out
  }

  const server = Bun.serve<Relay>({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request, srv) {
      const url = new URL(request.url)
      const target = pick() + url.pathname + url.search
      if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
        const data: Relay = { target, headers: forwardHeaders(request.headers), queued: [], open: false }
        if (srv.upgrade(request, { data })) return undefined
        return new Response('upgrade failed', { status: 400 })
      }
      const answer = await fetch(target, {
        method: request.method,
        headers: forwardHeaders(request.headers),
        body: request.body,
        redirect: 'manual',
        // Requests stream through (an upload is not buffered); answers are passed on as sent, not inflated.
        duplex: 'half',
        decompress: false,
      } as RequestInit)
      // Read whole, so the answer keeps a Content-Length (the mender client refuses a download of
      // unknown size; Bun sends a streamed body chunked). The tests' answers are small.
      const body = request.method === 'HEAD' ? null : await answer.arrayBuffer()
      return new Response(body, { status: answer.status, headers: answer.headers })
    },
    websocket: {
      open(ws: ServerWebSocket<Relay>) {
        const headers = Object.fromEntries(ws.data.headers)
        delete headers['sec-websocket-key']
        delete headers['sec-websocket-version']
        delete headers['sec-websocket-extensions']
        const upstream = new WebSocket(ws.data.target.replace(/^http/, 'ws'), { headers } as never)
        upstream.binaryType = 'arraybuffer'
        ws.data.upstream = upstream
        upstream.onopen = () => {
          ws.data.open = true
          for (const message of ws.data.queued) upstream.send(message)
          ws.data.queued = []
        }
        upstream.onmessage = (event) =>
          ws.send(typeof event.data === 'string' ? event.data : new Uint8Array(event.data as ArrayBuffer))
        upstream.onclose = (event) => ws.close(sendable(event.code), event.reason)
        upstream.onerror = () => ws.close(1011, 'upstream failed')
      },
      message(ws, message) {
        if (ws.data.open) ws.data.upstream?.send(message)
        else ws.data.queued.push(message)
      },
      close(ws, code, reason) {
        ws.data.upstream?.close(sendable(code), reason)
      },
    },
  })

  return {
    url: `http://127.0.0.1:${server.port}`,
    counts: () => [...counts],
    stop: () => server.stop(true),
  }
}
