/**
 * Messages between the instances of one installation, each addressed to one instance by its id.
 * What deviceconnect uses to reach a device whose websocket another instance holds.
 */
export interface Relay {
  /** This instance's id (new at every start). */
  readonly instanceId: string
  /**
   * Queues `message` for the instance `to`. Messages from one instance to another arrive in the
   * order they were sent, each whole, or not at all when the receiver is gone (no error then:
   * whoever waits for an answer bounds the wait).
   */
  send(to: string, message: Uint8Array): void
  /** Hands every message sent to this instance to `receive`, with its sender's id. */
  onMessage(receive: (from: string, message: Uint8Array) => void): void
  /** Resolves once what was sent so far has left this instance. */
  flushed(): Promise<void>
  /** Stops receiving and sending. */
  close(): Promise<void>
}

/** Which instance holds a device's websocket: set when it connects, cleared when it goes. */
export interface DeviceHolders {
  /** Records this instance as the holder of the device's connection (replacing any other). */
  claim(instanceId: string, tenantId: string, deviceId: string, at: Date): Promise<void>
  /** Clears the record when it still names this instance (a newer connection elsewhere stays). */
  release(instanceId: string, tenantId: string, deviceId: string): Promise<void>
  /** The instance holding the device's connection, if one is recorded. */
  holder(tenantId: string, deviceId: string): Promise<string | undefined>
  /** Clears every record naming this instance (at its start and stop). */
  releaseAll(instanceId: string): Promise<void>
}

/**
 * The stream of one sender's messages, cut into pieces that fit a carrier's limit: whole messages
 * are packed together (4-byte length, then the bytes) while they fit, and a message larger than a
 * piece is split over several. The receiver (`createUnpacker`) rebuilds them in order.
 */
export function packMessages(
  messages: readonly Uint8Array[],
  pieceSize: number,
): { kind: Piece; bytes: Uint8Array }[] {
  const pieces: { kind: Piece; bytes: Uint8Array }[] = []
  let batch: Uint8Array[] = []
  let batchSize = 0
  const flushBatch = () => {
    if (batch.length === 0) return
    pieces.push({ kind: 'batch', bytes: Buffer.concat(batch) })
    batch = []
    batchSize = 0
  }
  for (const message of messages) {
    const framed = 4 + message.length
    if (framed > pieceSize) {
      flushBatch()
      // At least two parts, so that the first and the last are told apart.
      const size = message.length <= pieceSize ? Math.ceil(message.length / 2) : pieceSize
      for (let at = 0; at < message.length; at += size) {
        const last = at + size >= message.length
        pieces.push({
          kind: at === 0 ? 'first' : last ? 'last' : 'middle',
          bytes: message.subarray(at, at + size),
        })
      }
      continue
    }
    if (batchSize + framed > pieceSize) flushBatch()
    const length = Buffer.alloc(4)
    length.writeUInt32BE(message.length)
    batch.push(length, message)
    batchSize += framed
  }
  flushBatch()
  return pieces
}

/** A batch of whole messages, or the first, a middle or the last part of one large message. */
export type Piece = 'batch' | 'first' | 'middle' | 'last'

/**
 * Rebuilds one sender's messages from its pieces, in order. `gap` (a piece was lost: the carrier
 * reconnected) drops a message being rebuilt, so a later one is never glued to its remains.
 */
export function createUnpacker(deliver: (message: Uint8Array) => void) {
  let parts: Uint8Array[] | undefined
  return {
    piece(kind: Piece, bytes: Uint8Array): void {
      if (kind === 'batch') {
        parts = undefined
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        for (let at = 0; at + 4 <= buffer.length; ) {
          const length = buffer.readUInt32BE(at)
          deliver(buffer.subarray(at + 4, at + 4 + length))
          at += 4 + length
        }
        return
      }
      if (kind === 'first') parts = []
      if (!parts) return
      parts.push(bytes)
      if (kind === 'last') {
        const whole = Buffer.concat(parts)
        parts = undefined
        deliver(whole)
      }
    },
    gap(): void {
      parts = undefined
    },
  }
}
