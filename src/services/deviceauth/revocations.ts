import type { Authenticator, DevicePrincipal } from '../../gateway/auth.ts'
import type { RevocationCounter } from './store.ts'

/**
 * The device authenticator of a process that may share its database with other instances: before
 * each liveness check the revocation count is brought up to date (see `RevocationCounter.sync`),
 * so a token taken away on another instance is refused at the very next request here. Without a
 * `sync` (SQLite) it is the authenticator itself, answering synchronously as before.
 */
export function withSharedRevocations(
  authenticator: Authenticator<DevicePrincipal>,
  revocations: RevocationCounter,
): Authenticator<DevicePrincipal> {
  const { sync } = revocations
  if (!sync) return authenticator
  return {
    // The fleet-sized cache stays: only the liveness check changes.
    cache: authenticator.cache,
    verify: (token) => authenticator.verify(token),
    isLive: (principal) => sync().then(() => authenticator.isLive(principal)),
  }
}
