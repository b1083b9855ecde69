import { type Leases, localLeases } from '../../cluster/leases.ts'
import type { Deps } from '../../deps.ts'
import { type SlotLimits, tooManySessions } from './registry.ts'
import type { DeviceconnectStore } from './store.ts'

/**
 * How long an open session's place under the limits counts without its instance renewing it, and
 * how often each instance renews its places. On PostgreSQL the places of an instance that died
 * stop counting at most this long after its last renewal; one process (SQLite) counts in memory.
 */
export const SLOT_LEASE_MS = 20_000
const SLOT_RENEW_MS = 5_000
/** How long a place taken at a websocket upgrade waits for the socket to open. */
const RESERVATION_MS = 30_000

/** Who opens a session: a user of a tenant. */
export type SessionUser = { tenantId: string; userId: string }

/**
 * This instance's places under the session limits: taken before a session starts, given back when
 * it ends, renewed while held; the store counts them over every instance sharing it.
 */
export type SessionPlaces = {
  /** Takes a place for one more session of the user on the device; throws (429) past a limit. */
  take(user: SessionUser, deviceId: string): Promise<string>
  /** Gives a place back; one whose release fails is no longer renewed, so it expires. */
  release(id: string): Promise<void>
  /** Takes a place at a websocket upgrade, for the socket about to open (`claim` picks it up). */
  reserve(user: SessionUser, deviceId: string): Promise<void>
  /** The place reserved for this user's socket to the device; none when it waited too long. */
  claim(user: SessionUser, deviceId: string): string | undefined
  /** Stops renewing and sweeping, and gives back the reservations not claimed. */
  stop(): void
}

export function createSessionPlaces(
  deps: Pick<Deps, 'ids' | 'log' | 'clock'>,
  store: DeviceconnectStore,
  options: { instanceId: string; perUser: number; perDevice: number; leases?: Leases },
): SessionPlaces {
  const { ids, log, clock } = deps
  const limits: SlotLimits = {
    perUser: options.perUser,
    perDevice: options.perDevice,
    leaseMs: SLOT_LEASE_MS,
  }
  const logFailure = (what: string) => (err: unknown) => log.error(what, { err })
  /** Places taken at an upgrade, per user and device, waiting for their websocket to open. */
  const reserved = new Map<string, { id: string; timer: Timer }[]>()
  const reservedKey = (user: SessionUser, deviceId: string) =>
    `${user.tenantId}\u0000${user.userId}\u0000${deviceId}`
  /**
   * Places of sessions ended here whose release is still under way: they no longer count, so a
   * user closing a session and opening the next at once is never refused for the one just closed.
   */
  const releasing = new Set<string>()
  /** The places this instance holds (open sessions, transfers, reservations): those it renews. */
  const held = new Set<string>()

  // This instance's heartbeat: its places keep counting while it runs.
  const renewer = setInterval(
    () => void store.renewSlots([...held], SLOT_LEASE_MS).catch(logFailure('renewing open sessions failed')),
    SLOT_RENEW_MS,
  )
  renewer.unref()
  // The places of instances gone without giving them back: one instance drops them.
  const endSweep = (options.leases ?? localLeases()).run('deviceconnect.open-sessions', () => {
    const drop = () =>
      void store.dropExpiredSlots(clock.now()).catch(logFailure('dropping expired open sessions failed'))
    const timer = setInterval(drop, SLOT_LEASE_MS)
    timer.unref()
    drop()
    return () => clearInterval(timer)
  })

  async function take(user: SessionUser, deviceId: string): Promise<string> {
    const id = ids.uuid()
    const slot = { id, ...user, deviceId, instanceId: options.instanceId }
    const full = await store.takeSlot(slot, limits, [...releasing])
    if (full) throw tooManySessions(full)
    held.add(id)
    return id
  }

  async function release(id: string): Promise<void> {
    held.delete(id)
    releasing.add(id)
    try {
      await store.releaseSlot(id)
    } catch (err) {
      log.error('giving back the place of a session failed', { err })
    } finally {
      releasing.delete(id)
    }
  }

  return {
    take,
    release,

    async reserve(user, deviceId) {
      const id = await take(user, deviceId)
      const key = reservedKey(user, deviceId)
      const waiting = reserved.get(key) ?? []
      const reservation = {
        id,
        // The upgrade failed or the client left before the socket opened: the place goes back.
        timer: setTimeout(() => {
          const left = (reserved.get(key) ?? []).filter((r) => r !== reservation)
          if (left.length > 0) reserved.set(key, left)
          else reserved.delete(key)
          void release(id)
        }, RESERVATION_MS),
      }
      reservation.timer.unref()
      waiting.push(reservation)
      reserved.set(key, waiting)
    },

    claim(user, deviceId) {
      const key = reservedKey(user, deviceId)
      const reservation = reserved.get(key)?.shift()
      if (reserved.get(key)?.length === 0) reserved.delete(key)
      if (!reservation) return undefined
      clearTimeout(reservation.timer)
      return reservation.id
    },

    stop() {
      clearInterval(renewer)
      // Local leases end at once; a PostgreSQL lease is given up in the background.
      void endSweep()
      for (const waiting of reserved.values()) {
        for (const reservation of waiting) {
          clearTimeout(reservation.timer)
          void release(reservation.id)
        }
      }
      reserved.clear()
    },
  }
}
