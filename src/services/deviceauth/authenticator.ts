import type { Clock } from '../../clock.ts'
import { type Authenticator, type DevicePrincipal, TokenCache } from '../../gateway/auth.ts'
import { UnauthorizedError } from '../../gateway/errors.ts'
import type { Tokens } from '../../tokens.ts'
import type { CheckInBuffer } from './checkins.ts'
import type { DeviceauthStore, RevocationCounter } from './store.ts'
import { type CachedPrincipal, DeviceTokenCache, ENTRY_KEY } from './token-cache.ts'

/** A device's check-in time moves at most this often: a device polling every few seconds costs no more writes. */
const CHECK_IN_RESOLUTION_MS = 60_000
/** Tokens whose ids are not UUIDs (never issued here, but valid if signed) are cached the plain way. */
const PLAIN_CACHE_SIZE = 10_000

/**
 * The revocation count as the cache keeps it: 32 bits, 0 meaning "never found". Two counts 2³² − 1
 * revocations apart look alike, which would take that many revocations between two polls.
 */
const stampOf = (count: number): number => (count % 0xffffffff) + 1

/**
 * The `device` guard: signature and claims once per token (kept in a cache sized for the whole
 * fleet), the token row again whenever a device token may have been taken away since it was last
 * found; a live request is a check-in (at most one a minute per token), buffered for the periodic
 * flush.
 */
export function createDeviceAuthenticator(parts: {
  store: Pick<DeviceauthStore, 'findTokenById'>
  revocations: RevocationCounter
  tokens: Tokens
  clock: Clock
  checkIns: Pick<CheckInBuffer, 'record'>
  /** Memory the token cache may take (see `DeviceTokenCache`). */
  cacheBytes: number
}): Authenticator<DevicePrincipal> {
  const { store, revocations, tokens, clock, checkIns } = parts
  const fleet = new DeviceTokenCache(parts.cacheBytes)
  const plain = new TokenCache<DevicePrincipal>(PLAIN_CACHE_SIZE)
  /**
   * For a principal the fleet cache does not hold (the plain cache's, or a session's held
   * elsewhere): when it last recorded a check-in and the revocation count when its row was last
   * found. Keyed by the principal object, so as bounded as what holds it.
   */
  const lastCheckIn = new WeakMap<DevicePrincipal, number>()
  const confirmedLive = new WeakMap<DevicePrincipal, number>()

  /** Records a check-in if the last one is a minute old; answers the time to remember, or undefined. */
  function checkIn(principal: DevicePrincipal, lastMs: number | undefined): number | undefined {
    const now = clock.now()
    if (lastMs !== undefined && now.getTime() - lastMs < CHECK_IN_RESOLUTION_MS) return undefined
    checkIns.record(principal.tenantId, principal.deviceId, now)
    return now.getTime()
  }

  /** Whether the token row still exists (read only when a token may have been taken away since). */
  async function rowLive(principal: DevicePrincipal): Promise<boolean> {
    const row = await store.findTokenById(principal.tenantId, principal.authSetId)
    return row !== undefined && row.deviceId === principal.deviceId
  }

  /** Liveness of a principal held in the fleet cache; undefined when its entry is gone. */
  function fleetLive(
    principal: CachedPrincipal,
    key: readonly number[],
  ): boolean | Promise<boolean> | undefined {
    const state = fleet.state(key)
    if (!state) return undefined
    const checkedIn = (): true => {
      const at = checkIn(principal, state.checkIn === 0 ? undefined : state.checkIn * 1000)
      if (at !== undefined) fleet.update(key, { checkIn: Math.floor(at / 1000) })
      return true
    }
    // Synchronous while no token was taken away since this one was found: the poll reads nothing.
    const stamp = stampOf(revocations.value)
    if (state.confirmed === stamp) return checkedIn()
    return rowLive(principal).then((live) => {
      if (!live) return false
      fleet.update(key, { confirmed: stamp })
      return checkedIn()
    })
  }

  /** Liveness of any other principal, remembered per object. */
  function plainLive(principal: DevicePrincipal): boolean | Promise<boolean> {
    const checkedIn = (): true => {
      const at = checkIn(principal, lastCheckIn.get(principal))
      if (at !== undefined) lastCheckIn.set(principal, at)
      return true
    }
    if (confirmedLive.get(principal) === revocations.value) return checkedIn()
    const seen = revocations.value
    return rowLive(principal).then((live) => {
      if (!live) return false
      confirmedLive.set(principal, seen)
      return checkedIn()
    })
  }

  return {
    cache: {
      get: (token, nowMs) =>
        fleet.get(token, nowMs) ?? (plain.size > 0 ? plain.get(token, nowMs) : undefined),
      set(token, entry) {
        if (!fleet.set(token, entry)) plain.set(token, entry)
      },
    },
    async verify(token) {
      const claims = await tokens.verify(token)
      const { sub, jti, iss, exp } = claims
      if (claims['mender.device'] !== true) throw new UnauthorizedError('unauthorized', 'DeviceJWT')
      if (typeof sub !== 'string' || !sub || typeof jti !== 'string' || !jti || !iss) {
        throw new UnauthorizedError('unauthorized', 'DeviceJWT')
      }
      const tenant = claims['mender.tenant']
      // The cache key rides along, so the first request's liveness check lands in the entry.
      const principal: CachedPrincipal = {
        deviceId: sub,
        tenantId: typeof tenant === 'string' ? tenant : '',
        authSetId: jti,
        [ENTRY_KEY]: fleet.keyOf(token),
      }
      return { principal, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined }
    },
    isLive(principal: CachedPrincipal) {
      const key = principal[ENTRY_KEY]
      return (key && fleetLive(principal, key)) ?? plainLive(principal)
    },
  }
}
