import { Elysia } from 'elysia'
import { UnauthorizedError } from './errors.ts'

/** The caller behind a management request: a user holding a login token or a personal access token. */
export type UserPrincipal = { userId: string; tenantId: string; tokenId: string }

/** The caller behind a device request: the device, and the auth set its token was issued for. */
export type DevicePrincipal = { deviceId: string; tenantId: string; authSetId: string }

/**
 * How one kind of token is checked. `verify` is the expensive part (signature, claims) and its
 * result is cached per token until the token expires; `isLive` is a cheap lookup that runs on every
 * request, so a revoked token, a logged-out session or a rejected device is refused at once. It
 * may answer synchronously when it needs no lookup (the device poll with a cached token).
 */
export type Authenticator<P> = {
  verify(token: string): Promise<{ principal: P; expiresAt: number | undefined }>
  isLive(principal: P): boolean | Promise<boolean>
  /** Where verified tokens are kept, when the authenticator brings a cache of its own; else a `TokenCache`. */
  cache?: VerifiedTokens<P>
}

type CacheEntry<P> = { principal: P; expiresAt: number | undefined }

/** A cache of verified tokens: a principal back only for a token set before and not expired at `nowMs`. */
export type VerifiedTokens<P> = {
  get(token: string, nowMs: number): P | undefined
  set(token: string, entry: CacheEntry<P>): void
}

/**
 * Verified tokens, keyed by the SHA-256 of their text (a device token is ~700 bytes; the digest
 * keeps a large cache small, and only a cryptographic hash is safe as a key that skips the
 * signature check). Bounded: when full, the oldest insertions go first (Map keeps insertion
 * order), which costs a re-verification for a device that polls rarely, nothing more.
 */
export class TokenCache<P> implements VerifiedTokens<P> {
  private readonly entries = new Map<string, CacheEntry<P>>()

  constructor(private readonly max: number) {}

  get(token: string, nowMs: number): P | undefined {
    const key = Bun.SHA256.hash(token, 'base64')
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= nowMs) {
      this.entries.delete(key)
      return undefined
    }
    return entry.principal
  }

  set(token: string, entry: CacheEntry<P>): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(Bun.SHA256.hash(token, 'base64'), entry)
  }

  get size(): number {
    return this.entries.size
  }
}

/**
 * `Authorization: Bearer <jwt>` (scheme case-insensitive, exactly two parts), else, on a GET or HEAD
 * (a download a browser follows, a websocket upgrade), the `JWT` cookie. A browser attaches the
 * cookie to requests other sites make too, so it never authorizes a change.
 */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get('authorization')
  if (header) {
    const parts = header.split(' ')
    if (parts.length === 2 && parts[0]!.toLowerCase() === 'bearer' && parts[1]) return parts[1]
    return undefined
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined
  const cookie = request.headers.get('cookie')
  if (!cookie) return undefined
  for (const pair of cookie.split(';')) {
    const [name, ...value] = pair.trim().split('=')
    if (name === 'JWT' && value.length > 0) return value.join('=')
  }
  return undefined
}

/** Resolves a request's principal; synchronous when the token is cached (the device hot path). */
export function createAuthResolver<P>(
  authenticator: Authenticator<P>,
  realm: string,
  cacheSize: number,
  now: () => number,
) {
  const cache = authenticator.cache ?? new TokenCache<P>(cacheSize)
  const refuse = () => new UnauthorizedError('unauthorized', realm)
  const live = (principal: P): P | Promise<P> => {
    const answer = authenticator.isLive(principal)
    if (answer === true) return principal
    if (answer === false) throw refuse()
    return answer.then((isLive) => {
      if (!isLive) throw refuse()
      return principal
    })
  }
  return {
    cache,
    resolve(token: string | undefined): P | Promise<P> {
      if (!token) throw refuse()
      const cached = cache.get(token, now())
      if (cached) return live(cached)
      return authenticator.verify(token).then(
        (verified) => {
          cache.set(token, verified)
          return live(verified.principal)
        },
        (err) => {
          if (err instanceof UnauthorizedError) throw err
          throw refuse()
        },
      )
    },
  }
}

/**
 * Cache bounds (~150 bytes an entry), for an authenticator without a cache of its own (deviceauth
 * brings one sized for the whole fleet, see its token-cache.ts).
 */
const USER_CACHE_SIZE = 10_000
const DEVICE_CACHE_SIZE = 100_000

export type AuthOptions = {
  user: Authenticator<UserPrincipal>
  device: Authenticator<DevicePrincipal>
}

/** Where the transform stage leaves the principal for the resolve stage. */
const PRINCIPAL = Symbol('principal')
type Carrier = { [PRINCIPAL]?: unknown }

/**
 * The `user` and `device` macros: routes opt in with `{ user: true }` or `{ device: true }`.
 * Authentication runs in the transform stage, before body and query validation, so a request
 * without a valid token is a 401 whatever its fields say (as behind Mender's gateway). A body the
 * parser cannot read at all (malformed JSON, a wrong content type, over the size limit) is answered
 * before that, by the parser, which Elysia runs ahead of every hook. `resolve` then hands the
 * principal to the handler, typed.
 */
export function authPlugin(options: AuthOptions, now: () => number) {
  const users = createAuthResolver(options.user, 'ManagementJWT', USER_CACHE_SIZE, now)
  const devices = createAuthResolver(options.device, 'DeviceJWT', DEVICE_CACHE_SIZE, now)
  return new Elysia({ name: 'gateway.auth' }).macro({
    user: {
      async transform(ctx) {
        ;(ctx as Carrier)[PRINCIPAL] = await users.resolve(bearerToken(ctx.request))
      },
      resolve: (ctx) => ({ user: (ctx as Carrier)[PRINCIPAL] as UserPrincipal }),
    },
    device: {
      async transform(ctx) {
        ;(ctx as Carrier)[PRINCIPAL] = await devices.resolve(bearerToken(ctx.request))
      },
      resolve: (ctx) => ({ device: (ctx as Carrier)[PRINCIPAL] as DevicePrincipal }),
    },
  })
}

export type AuthPlugin = ReturnType<typeof authPlugin>
