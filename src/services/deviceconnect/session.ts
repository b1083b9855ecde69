import type { Deps } from '../../deps.ts'
import type { Logger } from '../../log.ts'
import type { Link, Peer, SessionRoute } from './hub.ts'
import type { SessionEnd, SessionRecord } from './model.ts'
import {
  decodeMessage,
  encodeMessage,
  message,
  PROTO_CONTROL,
  PROTO_FILE_TRANSFER,
  PROTO_SHELL,
  ProtocolError,
  type ProtoMsg,
  SHELL_STATUS,
  USER_PROTOCOLS,
} from './protocol.ts'
import type { DeviceconnectStore } from './store.ts'

/** The limits every session obeys (from the configuration). */
export type SessionLimits = {
  /** Message bodies relayed per session, both directions. */
  sessionBytes: number
  /** Terminal output kept for playback per session; output beyond it is relayed, not kept. */
  recordingBytes: number
}

export type SessionContext = {
  store: DeviceconnectStore
  clock: Deps['clock']
  log: Logger
  limits: SessionLimits
}

/** Terminal output is written in pieces of about this size, so a chatty shell costs few writes. */
const RECORDING_PIECE = 16 * 1024

/** How a websocket session can end (transfers end `completed` or `failed`). */
type RemoteEnd = Exclude<SessionEnd, 'open' | 'user_closed' | 'completed' | 'failed'>

/** Websocket close codes sent to users (RFC 6455). */
export const CLOSE_NORMAL = 1000
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_POLICY = 1008

const CLOSE_TEXT: Record<RemoteEnd, [number, string]> = {
  device_closed: [CLOSE_NORMAL, 'session closed by the device'],
  device_disconnected: [CLOSE_GOING_AWAY, 'device disconnected'],
  idle_timeout: [CLOSE_POLICY, 'session idle timeout'],
  byte_limit: [CLOSE_POLICY, 'session byte limit exhausted'],
  protocol_error: [CLOSE_POLICY, 'invalid message'],
  server_stopped: [CLOSE_GOING_AWAY, 'server stopping'],
}

/** Keep-alive traffic does not make a session active. */
const isKeepalive = (msg: ProtoMsg) => msg.typ === 'ping' || msg.typ === 'pong'

/**
 * One user websocket relayed to a device over its connection, under the session's own sid: every
 * user message is decoded, checked, stamped with the sid and the user's id, and encoded again, so a
 * malformed message ends this session and never reaches the device.
 */
export class RemoteSession implements SessionRoute {
  lastActive: number
  private bytes = 0
  private recorded = 0
  private seq = 0
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private shellOpen = false
  private controlOpen = false
  private ended = false

  constructor(
    private readonly ctx: SessionContext,
    readonly record: SessionRecord,
    private readonly link: Link,
    private readonly user: Peer,
    private readonly onEnd: (session: RemoteSession) => void,
  ) {
    this.lastActive = ctx.clock.now().getTime()
    link.route(record.id, this)
  }

  get id(): string {
    return this.record.id
  }

  /**
   * A message from the user: relayed re-encoded, or the end of the session when it is not valid
   * (`undefined` stands for a frame that is not binary).
   */
  fromUser(data: Uint8Array | undefined): void {
    if (this.ended) return
    let msg: ProtoMsg
    try {
      if (!data) throw new ProtocolError('text frames are not part of the protocol')
      msg = decodeMessage(data)
      if (!USER_PROTOCOLS.has(msg.proto)) throw new ProtocolError(`unknown protocol ${msg.proto}`)
    } catch (err) {
      this.rejected(err)
      return
    }
    msg.sid = this.id
    msg.props = { ...msg.props, user_id: this.record.userId }
    // mender-connect reads offsets only as int64; a browser's encoder writes small numbers narrower.
    if (msg.proto === PROTO_FILE_TRANSFER && Number.isSafeInteger(msg.props.offset)) {
      msg.props.offset = BigInt(msg.props.offset as number)
    }
    if (msg.proto === PROTO_SHELL && msg.typ === 'new') this.shellOpen = true
    if (msg.proto === PROTO_SHELL && msg.typ === 'stop') this.shellOpen = false
    if (msg.proto === PROTO_CONTROL && msg.typ === 'open') this.controlOpen = true
    if (!isKeepalive(msg)) this.lastActive = this.ctx.clock.now().getTime()
    if (!this.count(msg.body.length)) return
    try {
      this.link.send(msg)
    } catch (err) {
      this.rejected(err)
    }
  }

  onDeviceMessage(msg: ProtoMsg): void {
    if (this.ended) return
    if (!this.count(msg.body.length)) return
    if (!isKeepalive(msg)) this.lastActive = this.ctx.clock.now().getTime()
    if (msg.proto === PROTO_SHELL) {
      if (msg.typ === 'shell') this.recordOutput(msg.body)
      if (msg.typ === 'stop') this.shellOpen = false
    }
    this.user.send(encodeMessage(msg))
  }

  onDeviceGone(): void {
    this.end('device_disconnected')
  }

  /** The user's websocket closed. */
  userClosed(): void {
    this.end('user_closed')
  }

  /** Ends the session for a reason of the server's (idle, stopping). */
  expire(reason: 'idle_timeout' | 'server_stopped'): void {
    this.end(reason)
  }

  /** Writes the terminal output buffered so far (issued at once, so writes keep their order). */
  flush(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve()
    const data = Buffer.concat(this.pending)
    this.pending = []
    this.pendingBytes = 0
    const chunk = { seq: this.seq++, data }
    const { store, clock, log } = this.ctx
    return store
      .appendRecording(this.record.tenantId, this.id, chunk, clock.now())
      .catch((err) => log.error('recording terminal output failed', { session_id: this.id, err }))
  }

  private rejected(err: unknown): void {
    this.ctx.log.info('user message refused; session ended', {
      session_id: this.id,
      device_id: this.record.deviceId,
      reason: err instanceof Error ? err.message : String(err),
    })
    this.end('protocol_error')
  }

  /** Counts relayed bytes; ends the session and answers false past the limit. */
  private count(bytes: number): boolean {
    this.bytes += bytes
    if (this.bytes <= this.ctx.limits.sessionBytes) return true
    this.end('byte_limit')
    return false
  }

  private recordOutput(body: Uint8Array): void {
    const room = this.ctx.limits.recordingBytes - this.recorded
    if (room <= 0 || body.length === 0) return
    const kept = body.length > room ? body.subarray(0, room) : body
    this.pending.push(Buffer.from(kept))
    this.pendingBytes += kept.length
    this.recorded += kept.length
    if (this.pendingBytes >= RECORDING_PIECE) void this.flush()
  }

  /** Tells the device what it must stop, without throwing (the connection may be going). */
  private stopOnDevice(reason: string): void {
    const userId = this.record.userId
    try {
      if (this.shellOpen) {
        this.link.send(
          message({
            proto: PROTO_SHELL,
            typ: 'stop',
            sid: this.id,
            props: { status: SHELL_STATUS.error, user_id: userId },
            body: new TextEncoder().encode(reason),
          }),
        )
      }
      if (this.controlOpen) {
        this.link.send(
          message({ proto: PROTO_CONTROL, typ: 'close', sid: this.id, props: { user_id: userId } }),
        )
      }
    } catch {}
  }

  private end(reason: RemoteEnd | 'user_closed'): void {
    if (this.ended) return
    this.ended = true
    this.link.unroute(this.id, this)
    if (reason !== 'device_disconnected') {
      this.stopOnDevice(reason === 'user_closed' ? 'user disconnected' : CLOSE_TEXT[reason][1])
    }
    if (reason !== 'user_closed') {
      const [code, text] = CLOSE_TEXT[reason]
      try {
        this.user.close(code, text)
      } catch {}
    }
    this.onEnd(this)
    const { store, clock, log } = this.ctx
    const outcome = { end: reason, endTs: clock.now(), bytes: this.bytes, recordedBytes: this.recorded }
    void this.flush()
    store
      .endSession(this.record.tenantId, this.id, outcome)
      .catch((err) => log.error('recording the end of a session failed', { session_id: this.id, err }))
  }
}
