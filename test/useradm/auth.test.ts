import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const LOGIN = '/api/management/v1/useradm/auth/login'
const basic = (email: string, password: string) => ({
  authorization: `Basic ${btoa(`${email}:${password}`)}`,
})
const decode = (token: string) =>
  token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()))

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
  await t.services.useradm.createUser('', { email: 'Alice@Example.com', password: 'alice-secret-1' })
})
afterAll(() => t.close())

describe('login', () => {
  test('answers a raw RS256 JWT with Mender claims as application/jwt', async () => {
    const res = await t.call('POST', LOGIN, { headers: basic('alice@example.com', 'alice-secret-1') })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/jwt')
    const [header, claims] = decode(res.text)
    expect(header).toEqual({ alg: 'RS256', kid: 0, typ: 'JWT' })
    expect(claims.iss).toBe('mender.useradm')
    expect(claims.scp).toBe('mender.*')
    expect(claims['mender.user']).toBe(true)
    expect(claims.sub).toMatch(/^[0-9a-f-]{36}$/)
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/)
    expect(claims.exp - claims.iat).toBe(604800)
    expect(claims.nbf).toBe(claims.iat)
    const me = await t.call('GET', '/api/management/v1/useradm/users/me', { token: res.text })
    expect(me.status).toBe(200)
    expect(me.json.email).toBe('alice@example.com')
    expect(me.json.login_ts).toBeString()
  })

  test('email is case-insensitive; an empty JSON body like mender-cli sends is fine', async () => {
    const res = await t.call('POST', LOGIN, {
      headers: { ...basic('ALICE@example.COM', 'alice-secret-1'), 'content-type': 'application/json' },
      raw: '',
    })
    expect(res.status).toBe(200)
  })

  test('no_expiry issues a token without exp; unknown fields (token2fa) are ignored', async () => {
    const res = await t.call('POST', LOGIN, {
      headers: basic('alice@example.com', 'alice-secret-1'),
      body: { no_expiry: true, token2fa: '123456' },
    })
    expect(res.status).toBe(200)
    expect(decode(res.text)[1].exp).toBeUndefined()
  })

  test('bad credentials and bad headers are 401 with the Mender error body', async () => {
    for (const headers of [
      basic('alice@example.com', 'wrong-password'),
      basic('nobody@example.com', 'alice-secret-1'),
      {},
      { authorization: 'Bearer abc' },
      { authorization: 'Basic !!!' },
    ]) {
      const res = await t.call('POST', LOGIN, { headers: { ...headers, 'x-men-requestid': 'rid-1' } })
      expect(res.status).toBe(401)
      expect(res.json.request_id).toBe('rid-1')
      expect(res.json.error).toBeString()
    }
  })

  test('a bad JSON body is 400', async () => {
    const res = await t.call('POST', LOGIN, {
      headers: { ...basic('alice@example.com', 'alice-secret-1'), 'content-type': 'application/json' },
      raw: '{"no_expiry":',
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toStartWith('failed to decode request body')
  })

  test('keeps at most ten sessions per user, dropping the oldest', async () => {
    await t.services.useradm.createUser('', { email: 'sessions@example.com', password: 'sessions-pass' })
    const tokens: string[] = []
    for (let i = 0; i < 11; i++) {
      const res = await t.call('POST', LOGIN, { headers: basic('sessions@example.com', 'sessions-pass') })
      tokens.push(res.text)
      t.clock.advance(1)
    }
    const first = await t.call('GET', '/api/management/v1/useradm/users/me', { token: tokens[0] })
    expect(first.status).toBe(401)
    const last = await t.call('GET', '/api/management/v1/useradm/users/me', { token: tokens[10] })
    expect(last.status).toBe(200)
  })

  test('repeated failures for one email are throttled, and the lock ends', async () => {
    await t.services.useradm.createUser('', { email: 'target@example.com', password: 'target-pass-1' })
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) {
      statuses.push(
        (await t.call('POST', LOGIN, { headers: basic('target@example.com', 'guess-guess') })).status,
      )
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
    expect(statuses.slice(5)).toEqual([429, 429])
    const locked = await t.call('POST', LOGIN, { headers: basic('target@example.com', 'target-pass-1') })
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    // Other emails are not affected.
    expect(
      (await t.call('POST', LOGIN, { headers: basic('alice@example.com', 'alice-secret-1') })).status,
    ).toBe(200)
    t.clock.advance(15 * 60)
    const after = await t.call('POST', LOGIN, { headers: basic('target@example.com', 'target-pass-1') })
    expect(after.status).toBe(200)
  })
})

describe('tokens on the management API', () => {
  test('missing, malformed, forged and expired tokens are 401 with a Bearer challenge', async () => {
    const { token } = await loginAs(t, 'bob@example.com', 'bob-secret-1')
    const parts = token.split('.')
    const forged = [
      parts[0],
      Buffer.from(JSON.stringify({ ...decode(token)[1], sub: 'x' })).toString('base64url'),
      parts[2],
    ].join('.')
    for (const bad of [undefined, 'garbage', forged]) {
      const res = await t.call('GET', '/api/management/v1/useradm/users', { token: bad })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="ManagementJWT"')
      expect(Object.keys(res.json).sort()).toEqual(['error', 'request_id'])
    }
    const ok = await t.call('GET', '/api/management/v1/useradm/users', { token })
    expect(ok.status).toBe(200)
    t.clock.advance(604800 + 1)
    const expired = await t.call('GET', '/api/management/v1/useradm/users', { token })
    expect(expired.status).toBe(401)
  })

  test('the Authorization scheme is case-insensitive and the JWT cookie is accepted', async () => {
    const { token } = await loginAs(t, 'carol@example.com', 'carol-secret-1')
    const lower = await t.call('GET', '/api/management/v1/useradm/users/me', {
      headers: { authorization: `bearer ${token}` },
    })
    expect(lower.status).toBe(200)
    const cookie = await t.call('GET', '/api/management/v1/useradm/users/me', {
      headers: { cookie: `a=b; JWT=${token}` },
    })
    expect(cookie.status).toBe(200)
    const extra = await t.call('GET', '/api/management/v1/useradm/users/me', {
      headers: { authorization: `Bearer ${token} more` },
    })
    expect(extra.status).toBe(401)
  })

  test('logout answers 202 and the token stops working at once', async () => {
    const { token } = await loginAs(t, 'dave@example.com', 'dave-secret-1')
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token })).status).toBe(200)
    const out = await t.call('POST', '/api/management/v1/useradm/auth/logout', { token })
    expect(out.status).toBe(202)
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token })).status).toBe(401)
  })

  test('internal verify answers 200 for a live token and 401 otherwise', async () => {
    const { token } = await loginAs(t, 'erin@example.com', 'erin-secret-1')
    const headers = { 'x-forwarded-uri': '/api/management/v1/inventory/devices', 'x-forwarded-method': 'GET' }
    const ok = await t.call('POST', '/api/internal/v1/useradm/auth/verify', { token, headers })
    expect(ok.status).toBe(200)
    const viaGet = await t.call('GET', '/api/internal/v1/useradm/auth/verify', { token, headers })
    expect(viaGet.status).toBe(200)
    const bad = await t.call('POST', '/api/internal/v1/useradm/auth/verify', { token: 'x.y.z', headers })
    expect(bad.status).toBe(401)
    await t.call('POST', '/api/management/v1/useradm/auth/logout', { token })
    const revoked = await t.call('POST', '/api/internal/v1/useradm/auth/verify', { token, headers })
    expect(revoked.status).toBe(401)
  })
})
