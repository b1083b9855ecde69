import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../../src/clock.ts'
import { loadConfig } from '../../src/config.ts'
import { createAuthResolver } from '../../src/gateway/auth.ts'
import { UnauthorizedError } from '../../src/gateway/errors.ts'
import { createDeviceAuthenticator } from '../../src/services/deviceauth/authenticator.ts'
import { type CheckIn, createCheckInBuffer } from '../../src/services/deviceauth/checkins.ts'
import { isAllowedTransition } from '../../src/services/deviceauth/status.ts'
import { createDeviceauthStore, createRevocationCounter } from '../../src/services/deviceauth/store.ts'
import { createTokens, type Tokens } from '../../src/tokens.ts'
import { openTestDatabase } from '../helpers/database.ts'

const MiB = 1024 ** 2
let now = Date.UTC(2026, 0, 1)
const clock: Clock = { now: () => new Date(now) }
const revocations = createRevocationCounter()
let database: Awaited<ReturnType<typeof openTestDatabase>>
let store: ReturnType<typeof createDeviceauthStore>
let tokens: Tokens
let serial = 0

beforeAll(async () => {
  database = await openTestDatabase()
  store = createDeviceauthStore(database.db, revocations)
  const dir = join(database.db.$client.filename, '..')
  const keyFile = join(dir, 'jwt.pem')
  writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }))
  tokens = createTokens(loadConfig({ BENDER_DATA_DIR: dir, BENDER_JWT_KEY: keyFile }), clock)
})
afterAll(() => database.close())

const context = () => ({ now: new Date(now), newId: () => crypto.randomUUID(), maxAccepted: 0 })

/** An accepted device with a stored token row, and a token the server signed for it. */
async function acceptedDevice(tenantId = '') {
  const key = { hash: `hash-${++serial}`, normalised: `{"mac":"${serial}"}`, pem: `key-${serial}` }
  const request = { ...context(), maxPending: 10, expires: new Date(now + 3600_000) }
  const outcome = await store.recordAuthRequest(tenantId, key, request)
  if (outcome.kind !== 'new-device') throw new Error(outcome.kind)
  const [authSet] = await store.listAuthSets(tenantId, [outcome.device.id])
  await store.setAuthSetStatus(tenantId, outcome.device.id, authSet!.id, 'accepted', {
    ...context(),
    allowed: isAllowedTransition,
  })
  expect((await store.recordAuthRequest(tenantId, key, request)).kind).toBe('token')
  return {
    deviceId: outcome.device.id,
    authSetId: authSet!.id,
    token: await sign(outcome.device.id, authSet!.id),
  }
}

const sign = (sub: string, jti: string, tenantId = '') =>
  tokens.sign({
    sub,
    jti,
    iss: 'bender',
    exp: Math.floor(now / 1000) + 3600,
    ...(tenantId ? { 'mender.tenant': tenantId } : {}),
    'mender.device': true,
  })

/** The device guard as the gateway runs it, counting its token-row reads and its check-ins. */
function guard() {
  const counts = { reads: 0 }
  const recorded: CheckIn[] = []
  const checkIns = createCheckInBuffer(async () => {}, 60_000)
  const authenticator = createDeviceAuthenticator({
    store: {
      findTokenById: (tenantId, id) => {
        counts.reads++
        return store.findTokenById(tenantId, id)
      },
    },
    revocations,
    tokens,
    clock,
    checkIns: {
      record: (tenantId, deviceId, at) => {
        recorded.push({ tenantId, deviceId, at })
        checkIns.record(tenantId, deviceId, at)
      },
    },
    cacheBytes: 16 * MiB,
  })
  const resolver = createAuthResolver(authenticator, 'DeviceJWT', 10, () => now)
  return { counts, recorded, resolver, authenticator }
}

describe('the device guard with the fleet token cache', () => {
  test('a cached token reads nothing, until a revocation: then the revoked token is refused at once', async () => {
    const { counts, recorded, resolver } = guard()
    const a = await acceptedDevice()
    const b = await acceptedDevice()
    expect(await resolver.resolve(a.token)).toMatchObject({ deviceId: a.deviceId, authSetId: a.authSetId })
    expect(await resolver.resolve(b.token)).toMatchObject({ deviceId: b.deviceId })
    expect(counts.reads).toBe(2)
    // Answered synchronously from the cache, with no read.
    for (let i = 0; i < 3; i++) {
      const principal = resolver.resolve(a.token)
      expect(principal).not.toBeInstanceOf(Promise)
      expect(principal).toMatchObject({ deviceId: a.deviceId, tenantId: '', authSetId: a.authSetId })
    }
    expect(counts.reads).toBe(2)
    expect(recorded.map((checkIn) => checkIn.deviceId)).toEqual([a.deviceId, b.deviceId])

    expect(await store.deleteToken('', a.authSetId)).toBe(true)
    expect(() => resolver.resolve(a.token)).toThrow()
    await expect(Promise.resolve().then(() => resolver.resolve(a.token))).rejects.toBeInstanceOf(
      UnauthorizedError,
    )
    // Every other token reads its row once after a revocation, then none again.
    expect(await resolver.resolve(b.token)).toMatchObject({ deviceId: b.deviceId })
    const reads = counts.reads
    expect(resolver.resolve(b.token)).not.toBeInstanceOf(Promise)
    expect(counts.reads).toBe(reads)
  })

  test('a device checks in at most once a minute per token', async () => {
    const { recorded, resolver } = guard()
    const a = await acceptedDevice('tenant-1')
    const token = await sign(a.deviceId, a.authSetId, 'tenant-1')
    await resolver.resolve(token)
    now += 30_000
    await resolver.resolve(token)
    expect(recorded).toHaveLength(1)
    now += 30_000
    await resolver.resolve(token)
    expect(recorded.map((checkIn) => [checkIn.tenantId, checkIn.at.getTime()])).toEqual([
      ['tenant-1', now - 60_000],
      ['tenant-1', now],
    ])
  })

  test('a token the fleet cache cannot hold goes the plain way, its row checked all the same', async () => {
    const { counts, resolver } = guard()
    const a = await acceptedDevice()
    // Signed here, so valid, but its subject (not a lowercase UUID) is not the token row's device.
    const odd = await sign(a.deviceId.toUpperCase(), a.authSetId)
    await expect(Promise.resolve(resolver.resolve(odd))).rejects.toBeInstanceOf(UnauthorizedError)
    expect(counts.reads).toBe(1)
  })

  test('a principal held elsewhere (a terminal session) reads its row once per revocation', async () => {
    const { counts, authenticator } = guard()
    const a = await acceptedDevice()
    const principal = { tenantId: '', deviceId: a.deviceId, authSetId: a.authSetId }
    expect(await authenticator.isLive(principal)).toBe(true)
    expect(authenticator.isLive(principal)).toBe(true)
    expect(counts.reads).toBe(1)
    expect(await store.deleteToken('', a.authSetId)).toBe(true)
    expect(await authenticator.isLive(principal)).toBe(false)
    expect(counts.reads).toBe(2)
  })
})
