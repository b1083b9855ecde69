import type { Peer } from './hub.ts'

/** What the routes need of Bun's server websocket. */
type RawSocket = {
  sendBinary(data: Uint8Array): number
  /** Bun has it; Elysia's copy of the socket's type leaves it out. */
  getBufferedAmount?(): number
  close(code?: number, reason?: string): void
}

/**
 * Output a reader has not taken yet, beyond which its websocket is closed: a client that stops
 * reading must not make the server buffer a device's output without end.
 */
const MAX_BUFFERED = 8 * 1024 * 1024

/** A websocket as the service sees it: binary messages out, a close with a code. */
export const peerOf = (ws: RawSocket): Peer => ({
  send: (data) => {
    if ((ws.getBufferedAmount?.() ?? 0) > MAX_BUFFERED) ws.close(1008, 'client too slow')
    else ws.sendBinary(data)
  },
  close: (code, reason) => ws.close(code, reason),
})

/**
 * The bytes of a websocket message: Bun hands binary frames over as Buffers. Text frames are not
 * part of the protocol (Elysia may even have parsed them as JSON), so they yield undefined.
 */
export const messageBytes = (data: unknown): Uint8Array | undefined =>
  data instanceof Uint8Array ? data : undefined
