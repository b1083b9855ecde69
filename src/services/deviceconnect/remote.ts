import { pack, unpack } from 'msgpackr'
import type { Clock } from '../../clock.ts'
import type { DeviceHolders, Relay } from '../../cluster/relay.ts'
import type { Logger } from '../../log.ts'
import type { DeviceLink, Link, SessionRoute } from './hub.ts'
import {
  DEVICE_MESSAGE_LIMIT,
  decodeMessage,
  encodeMessage,
  ProtocolError,
  type ProtoMsg,
} from './protocol.ts'

/** How long a session waits for the holding instance to say the device is there. */
const PROBE_TIMEOUT_MS = 3000

/** What instances say to each other about one device (`b`: a device message, as encoded). */
type Frame =
  | { t: 'probe'; id: string; tenant: string; device: string }
  | { t: 'probed'; id: string; ok: boolean }
  | { t: 'route'; tenant: string; device: string; sid: string }
  | { t: 'unroute'; tenant: string; device: string; sid: string }
  | { t: 'to'; tenant: string; device: string; b: Uint8Array }
  | { t: 'from'; tenant: string; device: string; b: Uint8Array }
  | { t: 'gone'; tenant: string; device: string }
  | { t: 'drop'; tenant: string; device: string; code: number; reason: string }

const keyOf = (tenantId: string, deviceId: string) => `${tenantId}\u0000${deviceId}`

/** A device held by another instance: its messages go through the relay, both ways. */
class RemoteLink implements Link {
  readonly routes = new Map<string, SessionRoute>()

  constructor(
    readonly holder: string,
    readonly tenantId: string,
    readonly deviceId: string,
    private readonly relay: { sendFrame(to: string, frame: Frame): void; idle(link: RemoteLink): void },
  ) {}

  send(msg: ProtoMsg): number {
    const bytes = encodeMessage(msg)
    if (bytes.length >= DEVICE_MESSAGE_LIMIT) throw new ProtocolError('message too large for the device')
    this.relay.sendFrame(this.holder, { t: 'to', tenant: this.tenantId, device: this.deviceId, b: bytes })
    return bytes.length
  }

  route(sid: string, route: SessionRoute): void {
    this.routes.set(sid, route)
    this.relay.sendFrame(this.holder, { t: 'route', tenant: this.tenantId, device: this.deviceId, sid })
  }

  unroute(sid: string, route: SessionRoute): void {
    if (this.routes.get(sid) !== route) return
    this.routes.delete(sid)
    this.relay.sendFrame(this.holder, { t: 'unroute', tenant: this.tenantId, device: this.deviceId, sid })
    if (this.routes.size === 0) this.relay.idle(this)
  }

  /** The holder lost the device: every session over it ends. */
  gone(): void {
    const routes = [...this.routes.values()]
    this.routes.clear()
    for (const route of routes) route.onDeviceGone()
  }
}

/** On the holding instance: a remote session's route, passing the device's messages back to it. */
class ForwardRoute implements SessionRoute {
  constructor(
    private readonly origin: string,
    private readonly link: DeviceLink,
    private readonly relay: { sendFrame(to: string, frame: Frame): void },
  ) {}

  onDeviceMessage(_msg: ProtoMsg, raw: Uint8Array): void {
    this.relay.sendFrame(this.origin, {
      t: 'from',
      tenant: this.link.tenantId,
      device: this.link.deviceId,
      b: raw,
    })
  }

  onDeviceGone(): void {
    this.relay.sendFrame(this.origin, { t: 'gone', tenant: this.link.tenantId, device: this.link.deviceId })
  }

  isFrom(origin: string): boolean {
    return this.origin === origin
  }
}

export type RemoteLinks = ReturnType<typeof createRemoteLinks>

/**
 * deviceconnect across instances. The instance holding a device's websocket records itself as
 * its holder; a session opened on another instance asks the holder (through the relay) whether
 * the device is there and its token still holds, then talks to it through the relay: its
 * messages go to the holder, which sends them to the device, and the device's messages of the
 * session's sid come back the same way. `local` answers this instance's live link of a device.
 */
export function createRemoteLinks(parts: {
  relay: Relay
  holders: DeviceHolders
  clock: Clock
  log: Logger
  /** This instance's link of the device, whatever its token. */
  held(tenantId: string, deviceId: string): DeviceLink | undefined
  /** This instance's link of the device when its token still holds (a revoked one is dropped). */
  live(tenantId: string, deviceId: string): Promise<DeviceLink | undefined>
}) {
  const { relay, holders, clock, log, held, live } = parts
  const self = relay.instanceId
  /** Devices of other instances that sessions here talk to. */
  const remote = new Map<string, RemoteLink>()
  const probes = new Map<string, (ok: boolean) => void>()
  const logFailure = (what: string) => (err: unknown) => log.error(what, { err })

  const sendFrame = (to: string, frame: Frame) => relay.send(to, pack(frame))
  const links = {
    sendFrame,
    idle(link: RemoteLink) {
      const key = keyOf(link.tenantId, link.deviceId)
      if (remote.get(key) === link) remote.delete(key)
    },
  }

  async function onProbe(from: string, frame: Extract<Frame, { t: 'probe' }>): Promise<void> {
    const link = await live(frame.tenant, frame.device)
    sendFrame(from, { t: 'probed', id: frame.id, ok: link !== undefined })
  }

  /** A frame about a device this instance holds. */
  function onHeld(from: string, frame: Exclude<Frame, { t: 'probe' | 'probed' | 'from' | 'gone' }>): void {
    const link = held(frame.tenant, frame.device)
    if (!link) {
      if (frame.t !== 'unroute' && frame.t !== 'drop')
        sendFrame(from, { t: 'gone', tenant: frame.tenant, device: frame.device })
      return
    }
    if (frame.t === 'route') link.route(frame.sid, new ForwardRoute(from, link, links))
    else if (frame.t === 'unroute') {
      const route = link.routes.get(frame.sid)
      if (route instanceof ForwardRoute && route.isFrom(from)) link.unroute(frame.sid, route)
    } else if (frame.t === 'to') {
      try {
        link.sendBytes(frame.b)
      } catch (err) {
        log.warn('a relayed message could not be sent to the device', { device_id: frame.device, err })
      }
    } else link.drop(frame.code, frame.reason)
  }

  /** A frame about a device another instance holds, for sessions here. */
  function onRemote(
    from: string,
    frame: Extract<Frame, { t: 'from' }> | Extract<Frame, { t: 'gone' }>,
  ): void {
    const key = keyOf(frame.tenant, frame.device)
    const link = remote.get(key)
    if (!link || link.holder !== from) return
    if (frame.t === 'gone') {
      remote.delete(key)
      link.gone()
      return
    }
    let msg: ProtoMsg
    try {
      msg = decodeMessage(frame.b)
    } catch {
      return
    }
    link.routes.get(msg.sid)?.onDeviceMessage(msg, frame.b)
  }

  relay.onMessage((from, bytes) => {
    let frame: Frame
    try {
      frame = unpack(bytes) as Frame
    } catch {
      return
    }
    if (frame.t === 'probe') void onProbe(from, frame).catch(logFailure('answering a relay probe failed'))
    else if (frame.t === 'probed') probes.get(frame.id)?.(frame.ok)
    else if (frame.t === 'from' || frame.t === 'gone') onRemote(from, frame)
    else onHeld(from, frame)
  })

  async function probe(holder: string, tenantId: string, deviceId: string): Promise<boolean> {
    const id = crypto.randomUUID()
    const answered = new Promise<boolean>((resolve) => {
      probes.set(id, resolve)
      setTimeout(() => resolve(false), PROBE_TIMEOUT_MS).unref()
    })
    sendFrame(holder, { t: 'probe', id, tenant: tenantId, device: deviceId })
    try {
      return await answered
    } finally {
      probes.delete(id)
    }
  }

  return {
    sendFrame,

    /** The way to a device another instance holds, when it answers that the device is there. */
    async find(tenantId: string, deviceId: string): Promise<Link | undefined> {
      const holder = await holders.holder(tenantId, deviceId)
      if (!holder || holder === self || !(await probe(holder, tenantId, deviceId))) return undefined
      const key = keyOf(tenantId, deviceId)
      const known = remote.get(key)
      if (known?.holder === holder) return known
      known?.gone()
      const link = new RemoteLink(holder, tenantId, deviceId, links)
      remote.set(key, link)
      return link
    },

    /** The remote link `find` answered last for the device, if any. */
    found: (tenantId: string, deviceId: string): Link | undefined => remote.get(keyOf(tenantId, deviceId)),

    /** This instance now holds the device's websocket. */
    claim: (link: DeviceLink): Promise<void> =>
      holders.claim(self, link.tenantId, link.deviceId, clock.now()),

    /** This instance's websocket of the device is gone. */
    release: (link: DeviceLink): Promise<void> => holders.release(self, link.tenantId, link.deviceId),

    /** Closes the device's websocket on whichever other instance holds it (a decommission here). */
    async drop(tenantId: string, deviceId: string, code: number, reason: string): Promise<void> {
      const holder = await holders.holder(tenantId, deviceId)
      if (holder && holder !== self)
        sendFrame(holder, { t: 'drop', tenant: tenantId, device: deviceId, code, reason })
    },

    /** Forgets every device this instance held, and stops. */
    async close(): Promise<void> {
      for (const link of remote.values()) link.gone()
      remote.clear()
      await holders.releaseAll(self)
    },
  }
}
