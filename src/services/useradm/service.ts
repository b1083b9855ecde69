import type { Deps } from '../../deps.ts'
import type { Authenticator, UserPrincipal } from '../../gateway/auth.ts'
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  UnauthorizedError,
  UnprocessableError,
} from '../../gateway/errors.ts'
import type { Claims } from '../../tokens.ts'
import { ADMIN_ROLE, organizationClaims } from './organization.ts'
import { isUniqueViolation, type UserFilter, type UserRow } from './store.ts'
import { createLoginThrottle, type ThrottleStore } from './throttle.ts'

const USER_TOKEN_ISSUER = 'mender.useradm'
const USER_TOKEN_SCOPE = 'mender.*'
/** Mender keeps at most ten login sessions per user; older ones are revoked. */
const MAX_SESSIONS = 10
const MAX_PERSONAL_TOKENS = 10
const MIN_PASSWORD_LENGTH = 8
const MAX_FIELD_LENGTH = 256
const MAX_SETTINGS_KEYS = 1024
const MAX_SETTINGS_KEY_LENGTH = 128
const MAX_SETTINGS_STRING_LENGTH = 4096
/** A personal access token's `last_used` is written at most this often (Mender: 5-minute accuracy). */
const LAST_USED_RESOLUTION_MS = 5 * 60 * 1000
const ASCII = /^[\x20-\x7e]*$/
const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

export type User = {
  id: string
  email: string
  created_ts: string
  updated_ts: string
  login_ts?: string
  roles: string[]
}

export type PersonalToken = {
  id: string
  name: string
  created_ts: string
  expiration_date?: string
  last_used?: string
}

export type UserUpdate = { email?: string; password?: string; current_password?: string }

function toApiUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    created_ts: row.createdTs.toISOString(),
    updated_ts: row.updatedTs.toISOString(),
    ...(row.loginTs ? { login_ts: row.loginTs.toISOString() } : {}),
    roles: [ADMIN_ROLE],
  }
}

function validateEmail(raw: string): string {
  const email = raw.trim().toLowerCase()
  if (email.length === 0 || email.length > MAX_FIELD_LENGTH || !ASCII.test(email) || !EMAIL.test(email)) {
    throw new BadRequestError('email: must be a valid email address')
  }
  return email
}

function validatePassword(password: string, email: string): void {
  if (password.length > MAX_FIELD_LENGTH) {
    throw new UnprocessableError(`password: the length must be no more than ${MAX_FIELD_LENGTH}`)
  }
  if (!ASCII.test(password)) throw new UnprocessableError('password: must contain ASCII characters only')
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new UnprocessableError(`password: must be minimum ${MIN_PASSWORD_LENGTH} characters long`)
  }
  if (password.toLowerCase() === email)
    throw new UnprocessableError('password: must not be the email address')
}

function validateSettings(value: unknown): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequestError('settings: must be a JSON object')
  }
  const entries = Object.entries(value)
  if (entries.length > MAX_SETTINGS_KEYS) {
    throw new BadRequestError(`settings: at most ${MAX_SETTINGS_KEYS} keys are allowed`)
  }
  for (const [key, item] of entries) {
    if (key.length > MAX_SETTINGS_KEY_LENGTH) {
      throw new BadRequestError(
        `settings: key "${key.slice(0, 32)}..." is longer than ${MAX_SETTINGS_KEY_LENGTH}`,
      )
    }
    if (typeof item === 'string' && item.length > MAX_SETTINGS_STRING_LENGTH) {
      throw new BadRequestError(`settings: value of "${key}" is longer than ${MAX_SETTINGS_STRING_LENGTH}`)
    }
  }
}

/** `Authorization: Basic base64(email:password)`, or undefined when absent or malformed. */
function parseBasicAuth(header: string | null): { email: string; password: string } | undefined {
  if (!header) return undefined
  const [scheme, encoded, ...rest] = header.split(' ')
  if (rest.length > 0 || scheme?.toLowerCase() !== 'basic' || !encoded) return undefined
  const decoded = Buffer.from(encoded, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { email: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/** Users, their login sessions and personal access tokens, and each user's UI settings. */
export interface UseradmService {
  /**
   * A session token for `Authorization: Basic email:password`; attempts are counted (and throttled)
   * per email and client address before the password is checked.
   */
  login(authorization: string | null, noExpiry: boolean, clientAddress?: string): Promise<string>
  /** Revokes the token the request came with. */
  logout(principal: UserPrincipal): Promise<void>
  /** The tenant's users matching `filter`, by email. */
  listUsers(tenantId: string, filter: UserFilter): Promise<User[]>
  /** One user; 404 when unknown. */
  getUser(tenantId: string, id: string): Promise<User>
  /** A new user; 409 when the email is taken, 422 when the password is too weak. */
  createUser(tenantId: string, input: { email: string; password: string }): Promise<User>
  /**
   * Changes a user's email and/or password. Changing your own needs the current password; nobody
   * sets another user's password. A new password revokes every other token of that user.
   */
  updateUser(principal: UserPrincipal, id: string, update: UserUpdate): Promise<void>
  /** Deleting is idempotent (204 for an unknown id, as in Mender); the user's tokens die with it. */
  deleteUser(tenantId: string, id: string): Promise<void>
  /** The user's settings document and its ETag (none before the first save). */
  getSettings(tenantId: string, userId: string): Promise<{ value: Record<string, unknown>; etag?: string }>
  /** Replaces the settings document; with `ifMatch`, only if it is still the current ETag (412). */
  saveSettings(tenantId: string, userId: string, value: unknown, ifMatch: string | undefined): Promise<void>
  /** A named personal access token (at most ten a user); answers the token itself, shown once. */
  createPersonalToken(principal: UserPrincipal, input: { name: string; expires_in?: number }): Promise<string>
  /** The user's personal access tokens, without their secrets. */
  listPersonalTokens(principal: UserPrincipal): Promise<PersonalToken[]>
  /** Revokes one of the user's personal access tokens. */
  deletePersonalToken(principal: UserPrincipal, id: string): Promise<void>
  /** The `user` guard: signature and claims once per token (then cached), the token row every time. */
  authenticator: Authenticator<UserPrincipal>
  /** For the command line: set a password without the API's current-password rule. */
  setPassword(email: string, password: string): Promise<User>
  /** The limits a user sees (`max_devices`). */
  limits(): { devices: number }
  /** Whether any user exists (the first start creates the configured admin). */
  hasUsers(): Promise<boolean>
  /** The single-tenant user with this email, if any. */
  findUserByEmail(email: string): Promise<User | undefined>
}

export function createUseradmService(
  deps: Deps,
  peers: { loginThrottle?: ThrottleStore } = {},
): UseradmService {
  // Long as a whole: one closure over the dependencies its methods share; each method is short.
  const store = deps.stores.useradm
  const { clock, ids, tokens, config } = deps
  const throttle = createLoginThrottle(() => clock.now().getTime(), peers.loginThrottle)
  // Checking a password against this keeps a login for an unknown email as slow as a real one.
  // Made on the first such login, not at every start (an argon2 hash costs ~150 ms and 64 MiB).
  let decoyHash: Promise<string> | undefined
  const decoy = () => {
    decoyHash ??= Bun.password.hash(crypto.randomUUID())
    return decoyHash
  }

  async function issueToken(
    user: UserRow,
    tenantId: string,
    options: { ttlSeconds?: number; name?: string },
  ): Promise<string> {
    const now = clock.now()
    const iat = Math.floor(now.getTime() / 1000)
    const jti = ids.uuid()
    const expiresTs = options.ttlSeconds ? new Date((iat + options.ttlSeconds) * 1000) : null
    const claims: Claims = {
      jti,
      sub: user.id,
      ...(expiresTs ? { exp: iat + options.ttlSeconds! } : {}),
      iat,
      nbf: iat,
      iss: USER_TOKEN_ISSUER,
      scp: USER_TOKEN_SCOPE,
      ...(tenantId ? { 'mender.tenant': tenantId } : {}),
      'mender.user': true,
      ...organizationClaims(),
    }
    const token = await tokens.sign(claims, { kid: 0 })
    try {
      await store.insertToken({
        id: jti,
        tenantId,
        userId: user.id,
        name: options.name ?? null,
        expiresTs,
        createdTs: now,
        lastUsedTs: null,
      })
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError('Personal Access Token with a given name already exists')
      throw err
    }
    return token
  }

  async function requireUser(tenantId: string, id: string): Promise<UserRow> {
    const user = await store.findUserById(tenantId, id)
    if (!user) throw new NotFoundError('user not found')
    return user
  }

  async function checkCurrentPassword(user: UserRow, currentPassword: string | undefined): Promise<void> {
    if (!currentPassword || !(await Bun.password.verify(currentPassword, user.passwordHash))) {
      throw new UnprocessableError('the current password is missing or incorrect')
    }
  }

  const service = {
    /** `clientAddress` is the caller's IP address ('' when unknown): failures are counted per email and address. */
    async login(authorization: string | null, noExpiry: boolean, clientAddress = ''): Promise<string> {
      const credentials = parseBasicAuth(authorization)
      if (!credentials) throw new UnauthorizedError('invalid or missing auth header')
      const email = credentials.email.trim().toLowerCase()
      const user = await store.findUserByEmail('', email)
      const valid = await throttle.attempt(email, clientAddress, async () => {
        const matches = await Bun.password.verify(credentials.password, user?.passwordHash ?? (await decoy()))
        return matches && user !== undefined
      })
      if (!user || !valid) throw new UnauthorizedError()
      const token = await issueToken(user, user.tenantId, {
        ttlSeconds: noExpiry ? undefined : config.userTokenTtlSeconds,
      })
      await store.pruneSessions(user.id, MAX_SESSIONS)
      await store.updateUser(user.id, { loginTs: clock.now() })
      return token
    },

    async logout(principal: UserPrincipal): Promise<void> {
      await store.deleteToken(principal.tenantId, principal.userId, principal.tokenId)
    },

    listUsers: async (tenantId: string, filter: UserFilter): Promise<User[]> =>
      (await store.listUsers(tenantId, filter)).map(toApiUser),

    getUser: async (tenantId: string, id: string): Promise<User> =>
      toApiUser(await requireUser(tenantId, id)),

    async createUser(tenantId: string, input: { email: string; password: string }): Promise<User> {
      const email = validateEmail(input.email)
      validatePassword(input.password, email)
      if (await store.findUserByEmail(tenantId, email)) {
        throw new UnprocessableError('user with a given email already exists')
      }
      const now = clock.now()
      const row: UserRow = {
        id: ids.uuid(),
        tenantId,
        email,
        passwordHash: await Bun.password.hash(input.password),
        createdTs: now,
        updatedTs: now,
        loginTs: null,
      }
      try {
        await store.insertUser(row)
      } catch (err) {
        if (isUniqueViolation(err)) throw new UnprocessableError('user with a given email already exists')
        throw err
      }
      return toApiUser(row)
    },

    async updateUser(principal: UserPrincipal, id: string, update: UserUpdate): Promise<void> {
      const user = await requireUser(principal.tenantId, id)
      const own = user.id === principal.userId
      if (update.email === undefined && update.password === undefined) {
        throw new BadRequestError('no update information provided')
      }
      const email = update.email === undefined ? undefined : validateEmail(update.email)
      const emailChanges = email !== undefined && email !== user.email
      if (update.password !== undefined) {
        if (!own) throw new UnprocessableError("you can't change another user's password")
        validatePassword(update.password, email ?? user.email)
      }
      if (own && (emailChanges || update.password !== undefined)) {
        await checkCurrentPassword(user, update.current_password)
      }
      if (emailChanges && (await store.findUserByEmail(principal.tenantId, email))) {
        throw new UnprocessableError('user with a given email already exists')
      }
      const passwordHash =
        update.password === undefined ? undefined : await Bun.password.hash(update.password)
      try {
        await store.updateUser(user.id, {
          ...(emailChanges ? { email } : {}),
          ...(passwordHash ? { passwordHash } : {}),
          updatedTs: clock.now(),
        })
      } catch (err) {
        if (isUniqueViolation(err)) throw new UnprocessableError('user with a given email already exists')
        throw err
      }
      if (passwordHash) await store.deleteUserTokens(user.id, own ? principal.tokenId : undefined)
    },

    async deleteUser(tenantId: string, id: string): Promise<void> {
      await store.deleteUser(tenantId, id)
    },

    async getSettings(tenantId: string, userId: string) {
      const row = await store.findSettings(tenantId, userId)
      return row ? { value: row.value, etag: row.etag } : { value: {} }
    },

    async saveSettings(tenantId: string, userId: string, value: unknown, ifMatch: string | undefined) {
      validateSettings(value)
      const saved = await store.saveSettings({ tenantId, userId, value, etag: ids.uuid() }, ifMatch)
      if (!saved) throw new PreconditionFailedError("ETag doesn't match")
    },

    async createPersonalToken(principal: UserPrincipal, input: { name: string; expires_in?: number }) {
      // Its length and the expiry's range are checked by the route's schema.
      const name = input.name.trim()
      if (name === '') throw new BadRequestError('name: must not be empty')
      const ttl = input.expires_in ?? 0
      const user = await requireUser(principal.tenantId, principal.userId)
      if ((await store.countPersonalTokens(user.id)) >= MAX_PERSONAL_TOKENS) {
        throw new UnprocessableError('maximum number of personal access tokens reached for this user')
      }
      return issueToken(user, principal.tenantId, { ttlSeconds: ttl || undefined, name })
    },

    listPersonalTokens: async (principal: UserPrincipal): Promise<PersonalToken[]> =>
      (await store.listPersonalTokens(principal.tenantId, principal.userId)).map((row) => ({
        id: row.id,
        name: row.name ?? '',
        created_ts: row.createdTs.toISOString(),
        ...(row.expiresTs ? { expiration_date: row.expiresTs.toISOString() } : {}),
        ...(row.lastUsedTs ? { last_used: row.lastUsedTs.toISOString() } : {}),
      })),

    async deletePersonalToken(principal: UserPrincipal, id: string): Promise<void> {
      await store.deleteToken(principal.tenantId, principal.userId, id)
    },

    authenticator: {
      async verify(token) {
        const claims = await tokens.verify(token)
        if (claims['mender.user'] !== true) throw new UnauthorizedError()
        const { sub, jti, iss, scp, exp } = claims
        if (typeof sub !== 'string' || !sub || typeof jti !== 'string' || !jti || !iss || !scp) {
          throw new UnauthorizedError()
        }
        if (iss !== USER_TOKEN_ISSUER) throw new UnauthorizedError()
        if (scp !== USER_TOKEN_SCOPE) throw new ForbiddenError('token scope does not grant access')
        const tenant = claims['mender.tenant']
        return {
          principal: { userId: sub, tenantId: typeof tenant === 'string' ? tenant : '', tokenId: jti },
          expiresAt: typeof exp === 'number' ? exp * 1000 : undefined,
        }
      },
      async isLive(principal) {
        const row = await store.findTokenById(principal.tokenId)
        if (!row || row.userId !== principal.userId) return false
        if (row.name !== null) {
          const now = clock.now()
          if (!row.lastUsedTs || now.getTime() - row.lastUsedTs.getTime() >= LAST_USED_RESOLUTION_MS) {
            await store.touchToken(row.id, now)
          }
        }
        return true
      },
    } satisfies Authenticator<UserPrincipal>,

    async setPassword(email: string, password: string): Promise<User> {
      const user = await store.findUserByEmail('', validateEmail(email))
      if (!user) throw new NotFoundError('user not found')
      validatePassword(password, user.email)
      await store.updateUser(user.id, {
        passwordHash: await Bun.password.hash(password),
        updatedTs: clock.now(),
      })
      await store.deleteUserTokens(user.id)
      return toApiUser(user)
    },

    limits: () => ({ devices: config.maxDevices }),

    hasUsers: async (): Promise<boolean> => (await store.countUsers('')) > 0,
    async findUserByEmail(email: string): Promise<User | undefined> {
      const row = await store.findUserByEmail('', email.trim().toLowerCase())
      return row && toApiUser(row)
    },
  }
  return service
}
