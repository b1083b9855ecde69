import { timingSafeEqual } from 'node:crypto'
import type { Deps } from '../../deps.ts'
import { ConflictError, ForbiddenError } from '../../gateway/errors.ts'
import type { User, UseradmService } from './service.ts'

/** How long a printed setup link works. */
export const SETUP_TOKEN_TTL_MS = 60 * 60 * 1000

/**
 * First-run setup: while no user exists, the server prints a one-time link, and only whoever holds
 * it may create the first user. The token lives in memory only (a restart prints a new one), so a
 * log file that outlives the hour or the first user holds nothing usable.
 */
export interface FirstRunSetup {
  /** A fresh token (replacing any earlier one) valid for an hour; undefined once a user exists. */
  issueToken(): Promise<string | undefined>
  /** True while no user exists, so a person reaching the console knows to look for the link. */
  required(): Promise<boolean>
  /** Creates the first user when `token` is the current, unexpired token; the token then stops working. */
  createFirstUser(token: string, input: { email: string; password: string }): Promise<User>
}

type Current = { digest: Buffer; expiresAt: number }

const digest = (token: string) => new Bun.CryptoHasher('sha256').update(token).digest()

export function createFirstRunSetup(
  deps: Pick<Deps, 'clock'>,
  peers: { useradm: Pick<UseradmService, 'hasUsers' | 'createUser'> },
): FirstRunSetup {
  const { useradm } = peers
  let current: Current | undefined
  const now = () => deps.clock.now().getTime()

  /** Takes the token away while its user is being made, so two requests cannot both use it. */
  function take(token: string): Current {
    const held = current
    if (!held || held.expiresAt <= now() || !timingSafeEqual(held.digest, digest(token))) {
      throw new ForbiddenError('the setup link is invalid or has expired: restart the server for a new one')
    }
    current = undefined
    return held
  }

  return {
    async issueToken() {
      if (await useradm.hasUsers()) return undefined
      const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
      current = { digest: digest(token), expiresAt: now() + SETUP_TOKEN_TTL_MS }
      return token
    },
    required: async () => !(await useradm.hasUsers()),
    async createFirstUser(token, input) {
      if (await useradm.hasUsers()) throw new ConflictError('the first user already exists: sign in instead')
      const held = take(token)
      try {
        return await useradm.createUser('', input)
      } catch (err) {
        // A refused email or password leaves the link usable for a corrected try.
        current ??= held
        throw err
      }
    },
  }
}
