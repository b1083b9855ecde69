import { createHmac } from 'node:crypto'

export type Received = { path: string; headers: Headers; body: string; json: any }

/**
 * A webhook receiver on loopback: records every request, and answers what `answer` says (200 by
 * default). `until(n)` resolves once n requests arrived.
 */
export function startReceiver(answer?: (request: Received, index: number) => Response | Promise<Response>) {
  const received: Received[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const body = await request.text()
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {}
      const entry = { path: new URL(request.url).pathname, headers: request.headers, body, json }
      const index = received.push(entry) - 1
      for (const waiter of waiters.filter((w) => received.length >= w.n)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      return answer ? answer(entry, index) : new Response(null, { status: 200 })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    received,
    until: (n: number) =>
      received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    stop: () => server.stop(true),
  }
}

/** What a receiver checks: hex(HMAC-SHA256(body)) keyed with the bytes of the hex secret. */
export const expectedSignature = (body: string, secretHex: string): string =>
  createHmac('sha256', Buffer.from(secretHex, 'hex')).update(body).digest('hex')

/** The received events of one device (`data.device_id` for a device deployment, else `data.id`), by type. */
export const typesFor = (received: Received[], deviceId: string): string[] =>
  received.filter((r) => (r.json.data.device_id ?? r.json.data.id) === deviceId).map((r) => r.json.type)
