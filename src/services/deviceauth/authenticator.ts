import type { Clock } from '../../clock.ts'
import type { Authenticator, DevicePrincipal } from '../../gateway/auth.ts'
import { UnauthorizedError } from '../../gateway/errors.ts'
import type { Tokens } from '../../tokens.ts'
import type { CheckInBuffer } from './checkins.ts'
import type { DeviceauthStore, RevocationCounter } from './store.ts'

/** A device's check-in time moves at most this often: a device polling every few seconds costs no more writes. */
const CHECK_IN_RESOLUTION_MS = 60_000

/**
 * The `device` guard: signature and claims once per token (the gateway caches the answer), the
 * token row again whenever a device token may have been taken away since it was last found; a
 * live request is a check-in (at most one a minute per token), buffered for the periodic flush.
 */
export function createDeviceAuthenticator(parts: {
  store: Pick<DeviceauthStore, 'findTokenById'>
  revocations: RevocationCounter
  tokens: Tokens
  clock: Clock
  checkIns: Pick<CheckInBuffer, 'record'>
}): Authenticator<DevicePrincipal> {
  const { store, revocations, tokens, clock, checkIns } = parts
  /**
   * When each cached token last recorded a check-in. Keyed by the principal object the token cache
   * hands back for every request with that token, so it is as bounded as that cache and needs no
   * lookup of its own; a token verified again simply starts afresh.
   */
  const lastCheckIn = new WeakMap<DevicePrincipal, number>()
  /**
   * The store's revocation count when each cached token's row was last found. While no write has
   * taken any device token away since, the token is still live without looking again: a device's
   * poll then reads nothing for its token. Keyed like `lastCheckIn`.
   */
  const confirmedLive = new WeakMap<DevicePrincipal, number>()

  /** A live request is a check-in, recorded at most once a minute per token. */
  function checkedIn(principal: DevicePrincipal): true {
    const now = clock.now()
    const last = lastCheckIn.get(principal)
    if (last === undefined || now.getTime() - last >= CHECK_IN_RESOLUTION_MS) {
      lastCheckIn.set(principal, now.getTime())
      checkIns.record(principal.tenantId, principal.deviceId, now)
    }
    return true
  }

  return {
    async verify(token) {
      const claims = await tokens.verify(token)
      const { sub, jti, iss, exp } = claims
      if (claims['mender.device'] !== true) throw new UnauthorizedError('unauthorized', 'DeviceJWT')
      if (typeof sub !== 'string' || !sub || typeof jti !== 'string' || !jti || !iss) {
        throw new UnauthorizedError('unauthorized', 'DeviceJWT')
      }
      const tenant = claims['mender.tenant']
      return {
        principal: { deviceId: sub, tenantId: typeof tenant === 'string' ? tenant : '', authSetId: jti },
        expiresAt: typeof exp === 'number' ? exp * 1000 : undefined,
      }
    },
    isLive(principal) {
      // Synchronous while no token was taken away since this one was found: the poll reads nothing.
      if (confirmedLive.get(principal) === revocations.value) return checkedIn(principal)
      const seen = revocations.value
      return store.findTokenById(principal.tenantId, principal.authSetId).then((row) => {
        if (!row || row.deviceId !== principal.deviceId) return false
        confirmedLive.set(principal, seen)
        return checkedIn(principal)
      })
    },
  }
}
