import type { DevicePrincipal } from '../../gateway/auth.ts'
import {
  DEVICE_MESSAGE_LIMIT,
  decodeMessage,
  encodeMessage,
  ProtocolError,
  type ProtoMsg,
} from './protocol.ts'

/** One end of a websocket, as the service sees it: routes adapt the real socket to this. */
export type Peer = {
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

/** A session multiplexed over a device connection, receiving the device's messages for its sid. */
export type SessionRoute = {
  /** `raw` is the message as the device sent it (what a relay passes on unchanged). */
  onDeviceMessage(msg: ProtoMsg, raw: Uint8Array): void
  /** The device connection is gone (closed, replaced or removed). */
  onDeviceGone(): void
}

/**
 * The way to a device's websocket as sessions see it: held by this instance (DeviceLink), or by
 * another one and reached through the relay (RemoteLink in remote.ts).
 */
export interface Link {
  readonly tenantId: string
  readonly deviceId: string
  /** Encodes and sends a message; throws ProtocolError when mender-connect could not read it. */
  send(msg: ProtoMsg): number
  /** Hands the device's messages of `sid` to `route` from now on. */
  route(sid: string, route: SessionRoute): void
  /** Stops handing `sid`'s messages to `route` (nothing when another route took the sid over). */
  unroute(sid: string, route: SessionRoute): void
}

/** A device's live websocket and the sessions routed over it. */
export class DeviceLink implements Link {
  readonly routes = new Map<string, SessionRoute>()

  constructor(
    /** The device's token as it was verified at the upgrade. */
    readonly principal: DevicePrincipal,
    private readonly peer: Peer,
  ) {}

  get tenantId(): string {
    return this.principal.tenantId
  }

  get deviceId(): string {
    return this.principal.deviceId
  }

  /** Encodes and sends a message; throws ProtocolError when mender-connect could not read it. */
  send(msg: ProtoMsg): number {
    return this.sendBytes(encodeMessage(msg))
  }

  /** Sends an encoded message (one relayed from another instance); throws ProtocolError when too large. */
  sendBytes(bytes: Uint8Array): number {
    if (bytes.length >= DEVICE_MESSAGE_LIMIT) throw new ProtocolError('message too large for the device')
    this.peer.send(bytes)
    return bytes.length
  }

  route(sid: string, route: SessionRoute): void {
    this.routes.set(sid, route)
  }

  unroute(sid: string, route: SessionRoute): void {
    if (this.routes.get(sid) === route) this.routes.delete(sid)
  }

  /** Hands a device's message to the session of its sid; messages of unknown sessions are dropped. */
  receive(data: Uint8Array): ProtoMsg | undefined {
    let msg: ProtoMsg
    try {
      msg = decodeMessage(data)
    } catch {
      return undefined
    }
    const route = this.routes.get(msg.sid)
    if (route) route.onDeviceMessage(msg, data)
    return msg
  }

  /** Tells every session the connection is gone and closes it (when `code` is given). */
  drop(code?: number, reason?: string): void {
    const routes = [...this.routes.values()]
    this.routes.clear()
    for (const route of routes) route.onDeviceGone()
    if (code !== undefined) this.peer.close(code, reason)
  }
}

const keyOf = (tenantId: string, deviceId: string) => `${tenantId}\u0000${deviceId}`

/** The devices connected to this process, one connection each. */
export class Hub {
  private readonly links = new Map<string, DeviceLink>()

  get(tenantId: string, deviceId: string): DeviceLink | undefined {
    return this.links.get(keyOf(tenantId, deviceId))
  }

  /** Makes `link` the device's connection; resolves to the one it replaces, if any. */
  add(link: DeviceLink): DeviceLink | undefined {
    const key = keyOf(link.tenantId, link.deviceId)
    const previous = this.links.get(key)
    this.links.set(key, link)
    return previous
  }

  /** Forgets `link` if it is still the device's connection; resolves to whether it was. */
  remove(link: DeviceLink): boolean {
    const key = keyOf(link.tenantId, link.deviceId)
    if (this.links.get(key) !== link) return false
    this.links.delete(key)
    return true
  }

  all(): IterableIterator<DeviceLink> {
    return this.links.values()
  }

  get size(): number {
    return this.links.size
  }
}
