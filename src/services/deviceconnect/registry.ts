import { ApiError } from '../../gateway/errors.ts'

/** Too many sessions at once for a user or a device (429, like any other rate limit). */
export class TooManySessionsError extends ApiError {
  constructor(message: string) {
    super(429, message)
  }
}

/** The place one open session takes under the limits, held by the instance running it. */
export type SessionSlot = {
  /** The session's id. */
  id: string
  tenantId: string
  userId: string
  deviceId: string
  instanceId: string
}

/** The limits a slot is taken under, and how long a slot counts unless its instance renews it. */
export type SlotLimits = { perUser: number; perDevice: number; leaseMs: number }

/** Which limit refused a slot. */
export type FullLimit = 'user' | 'device'

/** The answer to a refused slot, the same whichever engine counted. */
export function tooManySessions(full: FullLimit): TooManySessionsError {
  return new TooManySessionsError(
    full === 'user' ? 'user has too many open sessions' : 'device has too many open sessions',
  )
}

/**
 * Open sessions counted in memory, per user and per device: the whole truth for one process
 * (SQLite), where every session runs in the process that counts it.
 */
export class MemorySlots {
  private readonly perUser = new Map<string, number>()
  private readonly perDevice = new Map<string, number>()
  private readonly slots = new Map<string, { userKey: string; deviceKey: string }>()

  /**
   * Counts one more session unless a limit is reached (`releasing` no longer count); answers the
   * limit reached, if any.
   */
  take(
    slot: SessionSlot,
    limits: Pick<SlotLimits, 'perUser' | 'perDevice'>,
    releasing: readonly string[] = [],
  ): FullLimit | undefined {
    const userKey = `${slot.tenantId}\u0000${slot.userId}`
    const deviceKey = `${slot.tenantId}\u0000${slot.deviceId}`
    const going = releasing.map((id) => this.slots.get(id))
    const goingOf = (key: 'userKey' | 'deviceKey', value: string) =>
      going.filter((held) => held?.[key] === value).length
    if ((this.perUser.get(userKey) ?? 0) - goingOf('userKey', userKey) >= limits.perUser) return 'user'
    if ((this.perDevice.get(deviceKey) ?? 0) - goingOf('deviceKey', deviceKey) >= limits.perDevice)
      return 'device'
    if (this.slots.has(slot.id)) return undefined
    this.slots.set(slot.id, { userKey, deviceKey })
    bump(this.perUser, userKey, 1)
    bump(this.perDevice, deviceKey, 1)
    return undefined
  }

  /** Gives a session's place back; nothing when it was given back already. */
  release(id: string): void {
    const slot = this.slots.get(id)
    if (!slot) return
    this.slots.delete(id)
    bump(this.perUser, slot.userKey, -1)
    bump(this.perDevice, slot.deviceKey, -1)
  }

  /** Forgets every place of a tenant. */
  releaseTenant(tenantId: string): void {
    for (const [id, slot] of this.slots) if (slot.userKey.startsWith(`${tenantId}\u0000`)) this.release(id)
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by
  if (next <= 0) counts.delete(key)
  else counts.set(key, next)
}
