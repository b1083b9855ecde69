import { ApiError, BadRequestError, PayloadTooLargeError } from '../../gateway/errors.ts'
import type { Link, SessionRoute } from './hub.ts'
import type { FileInfo, UploadTarget } from './model.ts'
import {
  decodeBody,
  encodeBody,
  FILE_CHUNK_SIZE,
  message,
  PROTO_CONTROL,
  PROTO_FILE_TRANSFER,
  ProtocolError,
  type ProtoMsg,
  readInteger,
} from './protocol.ts'

/** How long a transfer waits for the device's next message, as Mender does. */
const REPLY_TIMEOUT_MS = 60_000
/** mender-connect acks a download after this many chunks are acked back... */
const ACK_EVERY = 10
/** ...and an upload may run this many chunks ahead of the device's last ack. */
const UPLOAD_WINDOW = 20

export class BadGatewayError extends ApiError {
  constructor(message: string) {
    super(502, message)
  }
}

export class GatewayTimeoutError extends ApiError {
  constructor(message = 'timeout waiting for the device') {
    super(408, message)
  }
}

/** Go's os.FileMode type bits (directory, symlink, pipe, socket, device, char device, irregular). */
const GO_MODE_TYPE = (2 ** 31 + 2 ** 27 + 2 ** 26 + 2 ** 25 + 2 ** 24 + 2 ** 21 + 2 ** 19) >>> 0

/** The device's messages for one file-transfer session, read one at a time with a timeout. */
class Inbox implements SessionRoute {
  private readonly queue: ProtoMsg[] = []
  private waiter: ((msg: ProtoMsg | Error) => void) | undefined
  private failure: Error | undefined

  onDeviceMessage(msg: ProtoMsg): void {
    if (this.waiter) {
      const waiter = this.waiter
      this.waiter = undefined
      waiter(msg)
    } else this.queue.push(msg)
  }

  onDeviceGone(): void {
    this.fail(new ApiError(409, 'device disconnected'))
  }

  fail(err: Error): void {
    this.failure ??= err
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.(err)
  }

  /** A message already received, without waiting. */
  poll(): ProtoMsg | undefined {
    return this.queue.shift()
  }

  next(): Promise<ProtoMsg> {
    const queued = this.queue.shift()
    if (queued) return Promise.resolve(queued)
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new GatewayTimeoutError()), REPLY_TIMEOUT_MS)
      this.waiter = (value) => {
        clearTimeout(timer)
        if (value instanceof Error) reject(value)
        else resolve(value)
      }
    })
  }
}

/** The device's error message of a file-transfer reply, as text. */
function errorText(msg: ProtoMsg): string {
  try {
    const body = decodeBody(msg.body)
    return typeof body.err === 'string' ? body.err : 'device error'
  } catch {
    return 'device error'
  }
}

/**
 * One file transfer over a device connection, in its own session: the control handshake, then
 * the file-transfer requests, counting bytes as they pass. `close` ends it on both sides.
 */
export class FileTransfer {
  readonly inbox = new Inbox()
  bytes = 0
  private closed = false

  constructor(
    private readonly link: Link,
    readonly sid: string,
    private readonly userId: string,
  ) {
    link.route(sid, this.inbox)
  }

  private send(typ: string, fields: Partial<ProtoMsg> = {}, proto = PROTO_FILE_TRANSFER): void {
    this.link.send(
      message({ proto, typ, sid: this.sid, ...fields, props: { ...fields.props, user_id: this.userId } }),
    )
  }

  /** Opens the session; the device must list file transfer among its protocols. */
  async open(): Promise<void> {
    this.send('open', { body: encodeBody({ versions: [1] }) }, PROTO_CONTROL)
    const reply = await this.inbox.next()
    if (reply.proto === PROTO_CONTROL && reply.typ === 'error') throw new BadGatewayError(errorText(reply))
    if (reply.proto !== PROTO_CONTROL || reply.typ !== 'accept') throw new BadGatewayError('not implemented')
    let protocols: unknown
    try {
      protocols = decodeBody(reply.body).protocols
    } catch {
      throw new BadGatewayError('malformed handshake from the device')
    }
    if (!Array.isArray(protocols) || !protocols.some((p) => readInteger(p) === PROTO_FILE_TRANSFER)) {
      throw new BadGatewayError('file transfer disabled on device')
    }
  }

  /** Asks the device about a path: it must be a regular file no larger than `maxSize`. */
  async stat(path: string, maxSize: number): Promise<FileInfo> {
    this.send('stat', { body: encodeBody({ path }) })
    const reply = await this.inbox.next()
    if (reply.typ === 'error') throw new BadRequestError(errorText(reply))
    if (reply.typ !== 'file_info')
      throw new BadGatewayError(`unexpected reply "${reply.typ}" from the device`)
    let body: Record<string, unknown>
    try {
      body = decodeBody(reply.body)
    } catch {
      throw new BadGatewayError('malformed file information from the device')
    }
    const size = readInteger(body.size)
    const mode = readInteger(body.mode)
    if (size === undefined || size < 0) throw new BadGatewayError('the device reported no file size')
    if (mode !== undefined && ((mode >>> 0) & GO_MODE_TYPE) !== 0) {
      throw new BadRequestError(`path is not a regular file: ${path}`)
    }
    if (size > maxSize) throw new PayloadTooLargeError(`file larger than the limit of ${maxSize} bytes`)
    return { path, size, uid: readInteger(body.uid), gid: readInteger(body.gid), mode }
  }

  /**
   * The file's bytes as a stream. Acks follow what the reader has taken, so the device never runs
   * more than its window (20 chunks) ahead of the HTTP client and memory stays flat.
   */
  download(path: string, maxSize: number, done: (err?: unknown) => void): ReadableStream<Uint8Array> {
    this.send('get_file', { body: encodeBody({ path }) })
    let received = 0
    let unacked = 0
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const msg = await this.inbox.next()
            if (msg.typ === 'error') throw new BadRequestError(errorText(msg))
            if (msg.typ !== 'file_chunk') throw new ProtocolError(`unexpected message "${msg.typ}"`)
            if (readInteger(msg.props.offset) !== received) throw new ProtocolError('unexpected chunk offset')
            if (msg.body.length === 0) {
              this.send('ack', { props: { offset: BigInt(received) } })
              controller.close()
              done()
              return
            }
            received += msg.body.length
            this.bytes = received
            if (received > maxSize) throw new PayloadTooLargeError('file grew past the size limit')
            controller.enqueue(msg.body)
            if (++unacked >= ACK_EVERY) {
              unacked = 0
              this.send('ack', { props: { offset: BigInt(received) } })
            }
          } catch (err) {
            controller.error(err)
            done(err)
          }
        },
        cancel: () => done(new Error('download cancelled by the client')),
      },
      { highWaterMark: 0 },
    )
  }

  /** Sends a file: put_file, then 4 KiB chunks within the device's ack window, then the empty last chunk. */
  async upload(target: UploadTarget, file: AsyncIterable<Uint8Array>, maxSize: number): Promise<number> {
    const request: Record<string, unknown> = { path: target.path }
    for (const key of ['uid', 'gid', 'mode'] as const)
      if (target[key] !== undefined) request[key] = target[key]
    this.send('put_file', { body: encodeBody(request) })
    const first = await this.inbox.next()
    if (first.typ === 'error') throw new BadRequestError(errorText(first))
    if (first.typ !== 'ack') throw new BadGatewayError(`unexpected reply "${first.typ}" from the device`)
    const inFlight: number[] = []
    const settle = (msg: ProtoMsg) => {
      if (msg.typ === 'error') throw new BadRequestError(errorText(msg))
      if (msg.typ !== 'ack') throw new BadGatewayError(`unexpected reply "${msg.typ}" from the device`)
      const acked = readInteger(msg.props.offset) ?? -1
      while (inFlight.length > 0 && inFlight[0]! <= acked) inFlight.shift()
    }
    let offset = 0
    const sendChunk = async (chunk: Uint8Array) => {
      for (let msg = this.inbox.poll(); msg; msg = this.inbox.poll()) settle(msg)
      while (inFlight.length >= UPLOAD_WINDOW) settle(await this.inbox.next())
      this.send('file_chunk', { props: { offset: BigInt(offset) }, body: chunk })
      inFlight.push(offset)
      offset += chunk.length
    }
    for await (const part of rechunk(file, FILE_CHUNK_SIZE)) {
      if (offset + part.length > maxSize)
        throw new PayloadTooLargeError(`file larger than the limit of ${maxSize} bytes`)
      this.bytes = offset + part.length
      await sendChunk(part)
    }
    this.send('file_chunk', { props: { offset: BigInt(offset) } })
    inFlight.push(offset)
    while (inFlight.length > 0) settle(await this.inbox.next())
    return offset
  }

  /** Ends the session on the device (it drops a half-written upload) and here. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.link.unroute(this.sid, this.inbox)
    this.inbox.fail(new Error('transfer closed'))
    try {
      this.send('close', {}, PROTO_CONTROL)
    } catch {}
  }
}

/** Re-cuts a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(size)
  let filled = 0
  for await (const chunk of source) {
    let at = 0
    while (at < chunk.length) {
      const take = Math.min(size - filled, chunk.length - at)
      buffer.set(chunk.subarray(at, at + take), filled)
      filled += take
      at += take
      if (filled === size) {
        yield buffer
        buffer = new Uint8Array(size)
        filled = 0
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled)
}
