import { type Leases, localLeases } from '../../cluster/leases.ts'
import type { DeviceHolders, Relay } from '../../cluster/relay.ts'
import type { Deps } from '../../deps.ts'
import type { Authenticator, DevicePrincipal } from '../../gateway/auth.ts'
import { ConflictError, NotFoundError } from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import { DeviceLink, Hub, type Link, type Peer } from './hub.ts'
import type {
  DeviceConnection,
  FileInfo,
  SessionFilter,
  SessionKind,
  SessionRecord,
  UploadTarget,
} from './model.ts'
import { createSessionPlaces, type SessionUser } from './places.ts'
import { replayRecording } from './playback.ts'
import { message, PROTO_MENDER_CLIENT } from './protocol.ts'
import { createRemoteLinks } from './remote.ts'
import { RemoteSession } from './session.ts'
import type { DeviceconnectStore } from './store.ts'
import { FileTransfer } from './transfer.ts'

/** What the device's mender-connect can ask its mender client to do. */
export type ClientCommand = 'check-update' | 'send-inventory'

/** How often idle sessions are looked for and buffered recordings written. */
const SWEEP_MS = 10_000
const RETENTION_SWEEP_MS = 60 * 60_000
/** Websocket close codes for a device connection replaced by a newer one, or whose token is gone. */
const CLOSE_REPLACED = 1000
const CLOSE_POLICY = 1008

export interface DeviceconnectService {
  /** Takes a device's new websocket as its connection (an older one is closed) and records it connected. */
  connectDevice(device: DevicePrincipal, peer: Peer): DeviceLink
  /** A message from the device: handed to the session of its sid, dropped when there is none. */
  deviceMessage(link: DeviceLink, data: Uint8Array): void
  /** The device's websocket closed: its sessions end; it is disconnected unless a newer connection took over. */
  deviceClosed(link: DeviceLink): Promise<void>
  /** The device's connection state; NotFound when deviceconnect has never heard of it. */
  getDevice(tenantId: string, deviceId: string): Promise<DeviceConnection>
  /**
   * Throws unless a session to the device may open now (connected, under the limits, counted over
   * every instance); otherwise takes its place under the limits, kept for the next openSession of
   * the same user and device (given back when none comes within 30 s).
   */
  reserveSession(user: SessionUser, deviceId: string): Promise<void>
  /** Opens a relayed session for a user's websocket (after reserveSession, at the upgrade). */
  openSession(user: SessionUser, deviceId: string, peer: Peer): RemoteSession
  /** Downloads a file from the device: its information at once, its bytes as they stream. */
  download(
    user: SessionUser,
    deviceId: string,
    path: string,
  ): Promise<{ info: FileInfo; body: ReadableStream }>
  /** Uploads a file to the device, streamed; resolves once the device has it. */
  upload(
    user: SessionUser,
    deviceId: string,
    target: UploadTarget,
    file: AsyncIterable<Uint8Array>,
  ): Promise<void>
  /** Asks the device's mender client to check for an update or send its inventory; NotFound when not connected. */
  sendClientCommand(
    tenantId: string,
    deviceId: string,
    command: ClientCommand,
    userId?: string,
  ): Promise<void>
  /** The session audit list, newest first. */
  listSessions(
    tenantId: string,
    filter: SessionFilter,
    paging: Paging,
  ): Promise<{ sessions: SessionRecord[]; total: number }>
  /** A session of the tenant; NotFound otherwise. */
  getSession(tenantId: string, sessionId: string): Promise<SessionRecord>
  /** Replays a session's recorded terminal output to a websocket, then closes it. */
  playback(tenantId: string, sessionId: string, peer: Peer, sleepMs: number): Promise<void>
  /** An accepted device: known from now on (disconnected until it connects). */
  provisionDevice(tenantId: string, deviceId: string): Promise<void>
  /** A decommissioned device: its connection is closed and it is forgotten. */
  removeDevice(tenantId: string, deviceId: string): Promise<void>
  /** Forgets a tenant entirely. */
  deleteTenant(tenantId: string): Promise<void>
  /** How many devices are connected to this process. */
  connectedDevices(): number
  /** Ends every session and connection, and the background sweeps. */
  stop(): void
}

/**
 * What deviceconnect needs from device authentication: whether the token a device connected with
 * still holds (not revoked, its device not rejected or decommissioned).
 */
export type DeviceconnectDeviceTokens = Pick<Authenticator<DevicePrincipal>, 'isLive'>

export function createDeviceconnectService(
  deps: Deps,
  peers: {
    deviceTokens: DeviceconnectDeviceTokens
    leases?: Leases
    /** Several instances: devices held by another one are reached through the relay. */
    relay?: { relay: Relay; holders: DeviceHolders }
  },
  store: DeviceconnectStore = deps.stores.deviceconnect,
): DeviceconnectService {
  const { clock, ids, log, config } = deps
  const limits = config.connect
  const hub = new Hub()
  const sessions = new Set<RemoteSession>()
  const versions = new WeakMap<DeviceLink, Promise<number>>()
  const context = { store, clock, log, limits }
  const logFailure = (what: string) => (err: unknown) => log.error(what, { err })

  // One process: every connection it knew of ended with it. Several: the others' connections stay.
  if (!peers.relay)
    void store.resetLiveState(clock.now()).catch(logFailure('resetting deviceconnect state failed'))

  // Open sessions are counted against the limits by the store, over every instance sharing it.
  const places = createSessionPlaces(deps, store, {
    instanceId: peers.relay?.relay.instanceId ?? ids.uuid(),
    perUser: limits.sessionsPerUser,
    perDevice: limits.sessionsPerDevice,
    leases: peers.leases,
  })

  function sweep(): void {
    const idleBefore = clock.now().getTime() - limits.idleTimeoutSeconds * 1000
    for (const session of sessions) {
      if (session.lastActive < idleBefore) session.expire('idle_timeout')
      else void session.flush()
    }
  }
  function dropOldRecordings(): void {
    const before = new Date(clock.now().getTime() - limits.recordingDays * 86_400_000)
    store.deleteRecordingsBefore(before).catch(logFailure('deleting old recordings failed'))
  }
  // Sessions are this instance's; recordings are the database's: one instance drops old ones.
  const sweeper = setInterval(sweep, SWEEP_MS)
  sweeper.unref()
  const endRetention = (peers.leases ?? localLeases()).run('deviceconnect.recordings', () => {
    const retention = setInterval(dropOldRecordings, RETENTION_SWEEP_MS)
    retention.unref()
    dropOldRecordings()
    return () => clearInterval(retention)
  })

  /**
   * The device's connection, if its token still holds. Tokens are checked at the upgrade; one taken
   * away since (a rejected or revoked device) ends the connection here, before anything uses it.
   */
  async function liveHere(tenantId: string, deviceId: string): Promise<DeviceLink | undefined> {
    const link = hub.get(tenantId, deviceId)
    if (!link || (await peers.deviceTokens.isLive(link.principal))) return link
    link.drop(CLOSE_POLICY, 'device token revoked')
    void deviceClosed(link)
    return undefined
  }
  const remote =
    peers.relay &&
    createRemoteLinks({
      ...peers.relay,
      clock,
      log,
      held: (tenantId, deviceId) => hub.get(tenantId, deviceId),
      live: liveHere,
    })

  /** The device's connection here, or through the instance holding it (which checks the token). */
  async function liveLink(tenantId: string, deviceId: string): Promise<Link | undefined> {
    if (hub.get(tenantId, deviceId)) return liveHere(tenantId, deviceId)
    return remote?.find(tenantId, deviceId)
  }

  async function requireLink(tenantId: string, deviceId: string): Promise<Link> {
    const link = await liveLink(tenantId, deviceId)
    if (!link) throw new NotFoundError('failed to connect to device: device disconnected')
    return link
  }

  async function deviceClosed(link: DeviceLink): Promise<void> {
    const current = hub.remove(link)
    link.drop()
    if (!current) return
    try {
      await remote?.release(link)
      const version = await versions.get(link)
      if (version !== undefined)
        await store.disconnectDevice(link.tenantId, link.deviceId, version, clock.now())
    } catch (err) {
      log.error('recording a device disconnection failed', { device_id: link.deviceId, err })
    }
  }

  function newRecord(
    id: string,
    user: SessionUser,
    deviceId: string,
    kind: SessionKind,
    path: string | null,
  ): SessionRecord {
    return {
      id,
      tenantId: user.tenantId,
      userId: user.userId,
      deviceId,
      kind,
      startTs: clock.now(),
      endTs: null,
      end: 'open',
      bytes: 0,
      recordedBytes: 0,
      path,
    }
  }

  /** Runs one file transfer as an audited session, ending it however `run` ends. */
  async function transfer<T>(
    user: SessionUser,
    deviceId: string,
    kind: 'download' | 'upload',
    path: string,
    run: (ft: FileTransfer, finish: (err?: unknown) => void) => Promise<T>,
  ): Promise<T> {
    const link = await liveLink(user.tenantId, deviceId)
    if (!link) throw new ConflictError('device not connected')
    const record = newRecord(await places.take(user, deviceId), user, deviceId, kind, path)
    try {
      await store.insertSession(record)
    } catch (err) {
      void places.release(record.id)
      throw err
    }
    const ft = new FileTransfer(link, record.id, user.userId)
    let finished = false
    const finish = (err?: unknown) => {
      if (finished) return
      finished = true
      ft.close()
      void places.release(record.id)
      const end = err ? 'failed' : 'completed'
      store
        .endSession(user.tenantId, record.id, { end, endTs: clock.now(), bytes: ft.bytes, recordedBytes: 0 })
        .catch(logFailure('recording the end of a transfer failed'))
    }
    try {
      await ft.open()
      return await run(ft, finish)
    } catch (err) {
      finish(err)
      throw err
    }
  }

  return {
    connectDevice(device, peer) {
      const link = new DeviceLink(device, peer)
      const version = store.connectDevice(device.tenantId, device.deviceId, clock.now())
      version.catch(logFailure('recording a device connection failed'))
      versions.set(link, version)
      const previous = hub.add(link)
      previous?.drop(CLOSE_REPLACED, 'replaced by a newer connection')
      remote?.claim(link).catch(logFailure('recording the instance holding a device failed'))
      return link
    },

    deviceMessage(link, data) {
      const msg = link.receive(data)
      if (msg?.proto === PROTO_MENDER_CLIENT && msg.sid === '') {
        log.debug('mender client command answered', { device_id: link.deviceId, typ: msg.typ, ...msg.props })
      }
    },

    deviceClosed,

    async getDevice(tenantId, deviceId) {
      const device = await store.findDevice(tenantId, deviceId)
      if (!device) throw new NotFoundError('device not found')
      return device
    },

    async reserveSession(user, deviceId) {
      await requireLink(user.tenantId, deviceId)
      await places.reserve(user, deviceId)
    },

    openSession(user, deviceId, peer) {
      // The token was checked and the place taken by reserveSession at the upgrade, just before.
      const placeId = places.claim(user, deviceId)
      // Only when the socket took longer than the reservation to open (its place was given back).
      if (!placeId) throw new Error('session refused: its place under the limits expired')
      const link = hub.get(user.tenantId, deviceId) ?? remote?.found(user.tenantId, deviceId)
      if (!link) {
        void places.release(placeId)
        throw new NotFoundError('failed to connect to device: device disconnected')
      }
      const record = newRecord(placeId, user, deviceId, 'remote', null)
      store.insertSession(record).catch(logFailure('recording a session failed'))
      const session = new RemoteSession(context, record, link, peer, (ended) => {
        sessions.delete(ended)
        void places.release(ended.id)
      })
      sessions.add(session)
      return session
    },

    download(user, deviceId, path) {
      return transfer(user, deviceId, 'download', path, async (ft, finish) => {
        const info = await ft.stat(path, limits.maxFileSize)
        return { info, body: ft.download(path, limits.maxFileSize, finish) }
      })
    },

    async upload(user, deviceId, target, file) {
      await transfer(user, deviceId, 'upload', target.path, async (ft, finish) => {
        await ft.upload(target, file, limits.maxFileSize)
        finish()
      })
    },

    async sendClientCommand(tenantId, deviceId, command, userId) {
      const link = await requireLink(tenantId, deviceId)
      link.send(
        message({ proto: PROTO_MENDER_CLIENT, typ: command, props: userId ? { user_id: userId } : {} }),
      )
    },

    async listSessions(tenantId, filter, paging) {
      return store.listSessions(tenantId, filter, { offset: pageOffset(paging), limit: paging.perPage })
    },

    async getSession(tenantId, sessionId) {
      const session = await store.findSession(tenantId, sessionId)
      if (!session) throw new NotFoundError('session not found')
      return session
    },

    playback(tenantId, sessionId, peer, sleepMs) {
      const live = [...sessions].find((s) => s.id === sessionId)
      const flushed = live ? live.flush() : Promise.resolve()
      return flushed.then(() => replayRecording(store, { tenantId, sessionId, peer, sleepMs }))
    },

    async provisionDevice(tenantId, deviceId) {
      await store.provisionDevice(tenantId, deviceId, clock.now())
    },

    async removeDevice(tenantId, deviceId) {
      const link = hub.get(tenantId, deviceId)
      if (link) {
        hub.remove(link)
        link.drop(1000, 'device decommissioned')
      } else await remote?.drop(tenantId, deviceId, 1000, 'device decommissioned')
      await store.deleteDevice(tenantId, deviceId)
    },

    async deleteTenant(tenantId) {
      for (const link of [...hub.all()]) {
        if (link.tenantId !== tenantId) continue
        hub.remove(link)
        link.drop(1000, 'tenant removed')
      }
      await store.deleteTenant(tenantId)
    },

    connectedDevices: () => hub.size,

    stop() {
      clearInterval(sweeper)
      // Local leases end at once; a PostgreSQL lease is given up in the background.
      void endRetention()
      places.stop()
      for (const session of [...sessions]) session.expire('server_stopped')
      for (const link of [...hub.all()]) link.drop(1001, 'server stopping')
      // Before the database closes (the services stop first): the other instances stop sending here.
      remote?.close().catch(logFailure('clearing the devices this instance held failed'))
    },
  }
}
