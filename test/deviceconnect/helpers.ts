import { Packr } from 'msgpackr'
import { loginAs, type TestApp } from '../helpers/app.ts'

/** An independent msgpack codec for the tests (Go's view: maps, bin bodies, int64 as BigInt). */
export const codec = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: 'bigint',
})

export type Msg = {
  hdr: { proto: number; typ?: string; sid?: string; props?: Record<string, any> }
  body?: Uint8Array
}

export const pack = (msg: Msg): Uint8Array => codec.pack(msg)

/** A websocket client that queues what it receives. */
export class Socket {
  readonly ws: WebSocket
  readonly received: { raw: Uint8Array; msg: Msg | undefined }[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>
  private wake: (() => void) | undefined

  constructor(url: string, headers: Record<string, string>) {
    this.ws = new WebSocket(url, { headers } as unknown as string[])
    this.ws.binaryType = 'arraybuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve())
      this.ws.addEventListener('error', () => reject(new Error('websocket error')))
    })
    this.closed = new Promise((resolve) =>
      this.ws.addEventListener('close', (e) => {
        resolve({ code: e.code, reason: e.reason })
        this.wake?.()
      }),
    )
    this.ws.addEventListener('message', (e) => {
      const raw = new Uint8Array(e.data as ArrayBuffer)
      let msg: Msg | undefined
      try {
        msg = codec.unpack(raw) as Msg
      } catch {}
      this.received.push({ raw, msg })
      this.wake?.()
    })
  }

  send(data: Uint8Array | Msg): void {
    this.ws.send(data instanceof Uint8Array ? data : pack(data))
  }

  /** The next received message matching `match` (consumed), waiting up to 10 s. */
  async next(match: (msg: Msg) => boolean = () => true): Promise<{ raw: Uint8Array; msg: Msg }> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const at = this.received.findIndex((r) => r.msg && match(r.msg))
      if (at >= 0) return this.received.splice(at, 1)[0] as { raw: Uint8Array; msg: Msg }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting')
      if (Date.now() > deadline) throw new Error('timed out waiting for a message')
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, 100)
      })
    }
  }

  close(): void {
    this.ws.close()
  }
}

export const wsUrl = (httpUrl: string, path: string) => httpUrl.replace(/^http/, 'ws') + path

export async function adminOf(t: TestApp) {
  return (await loginAs(t)).token
}

/** The headers of a websocket upgrade, for asking one with plain fetch (to read a refusal). */
export const UPGRADE_HEADERS = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
}
