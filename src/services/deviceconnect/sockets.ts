import type { Peer } from './hub.ts'

/** What the routes need of Bun's server websocket. */
type RawSocket = { sendBinary(data: Uint8Array): number; close(code?: number, reason?: string): void }

/** A websocket as the service sees it: binary messages out, a close with a code. */
export const peerOf = (ws: RawSocket): Peer => ({
  send: (data) => {
    ws.sendBinary(data)
  },
  close: (code, reason) => ws.close(code, reason),
})

/**
 * The bytes of a websocket message: Bun hands binary frames over as Buffers. Text frames are not
 * part of the protocol (Elysia may even have parsed them as JSON), so they yield undefined.
 */
export const messageBytes = (data: unknown): Uint8Array | undefined =>
  data instanceof Uint8Array ? data : undefined
