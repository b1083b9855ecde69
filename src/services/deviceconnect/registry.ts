import { ApiError } from '../../gateway/errors.ts'

/** Too many sessions at once for a user or a device (429, like any other rate limit). */
export class TooManySessionsError extends ApiError {
  constructor(message: string) {
    super(429, message)
  }
}

/** Open sessions counted per user and per device, for the limits on both. */
export class SessionCounter {
  private readonly perUser = new Map<string, number>()
  private readonly perDevice = new Map<string, number>()

  constructor(
    private readonly maxPerUser: number,
    private readonly maxPerDevice: number,
  ) {}

  /** Throws when one more session would pass a limit. */
  check(tenantId: string, userId: string, deviceId: string): void {
    if ((this.perUser.get(`${tenantId}/${userId}`) ?? 0) >= this.maxPerUser) {
      throw new TooManySessionsError('user has too many open sessions')
    }
    if ((this.perDevice.get(`${tenantId}/${deviceId}`) ?? 0) >= this.maxPerDevice) {
      throw new TooManySessionsError('device has too many open sessions')
    }
  }

  /** Counts one more session after checking the limits; returns the release function. */
  acquire(tenantId: string, userId: string, deviceId: string): () => void {
    this.check(tenantId, userId, deviceId)
    const userKey = `${tenantId}/${userId}`
    const deviceKey = `${tenantId}/${deviceId}`
    bump(this.perUser, userKey, 1)
    bump(this.perDevice, deviceKey, 1)
    let released = false
    return () => {
      if (released) return
      released = true
      bump(this.perUser, userKey, -1)
      bump(this.perDevice, deviceKey, -1)
    }
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by
  if (next <= 0) counts.delete(key)
  else counts.set(key, next)
}
