import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const TOKENS = '/api/management/v1/useradm/settings/tokens'
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())

let t: TestApp
let user: { token: string; userId: string }
beforeAll(async () => {
  t = await createTestApp()
  user = await loginAs(t, 'pat@example.com', 'pat-password-1')
})
afterAll(() => t.close())

describe('personal access tokens', () => {
  test('create returns a raw JWT usable like a login token; list never shows the secret', async () => {
    const res = await t.call('POST', TOKENS, { token: user.token, body: { name: 'ci', expires_in: 3600 } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/jwt')
    const pat = res.text
    const c = claims(pat)
    expect(c).toMatchObject({ sub: user.userId, iss: 'mender.useradm', scp: 'mender.*', 'mender.user': true })
    expect(c.exp - c.iat).toBe(3600)

    const me = await t.call('GET', '/api/management/v1/useradm/users/me', { token: pat })
    expect(me.status).toBe(200)
    expect(me.json.id).toBe(user.userId)

    const list = await t.call('GET', TOKENS, { token: user.token })
    expect(list.status).toBe(200)
    const entry = list.json.find((x: { name: string }) => x.name === 'ci')
    expect(entry).toMatchObject({ id: c.jti, name: 'ci' })
    expect(entry.created_ts).toBeString()
    expect(Date.parse(entry.expiration_date)).toBe(c.exp * 1000)
    expect(entry.last_used).toBeString()
    expect(JSON.stringify(list.json)).not.toContain(pat)
  })

  test('expires_in 0 or absent never expires', async () => {
    for (const [name, body] of [
      ['forever-0', { name: 'forever-0', expires_in: 0 }],
      ['forever', { name: 'forever' }],
    ] as const) {
      const res = await t.call('POST', TOKENS, { token: user.token, body })
      expect(res.status).toBe(200)
      expect(claims(res.text).exp).toBeUndefined()
      const list = await t.call('GET', TOKENS, { token: user.token })
      expect(list.json.find((x: { name: string }) => x.name === name).expiration_date).toBeUndefined()
    }
  })

  test('an expired token is refused', async () => {
    const res = await t.call('POST', TOKENS, { token: user.token, body: { name: 'short', expires_in: 60 } })
    t.clock.advance(61)
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token: res.text })).status).toBe(401)
  })

  test('deleting revokes at once', async () => {
    const res = await t.call('POST', TOKENS, { token: user.token, body: { name: 'doomed' } })
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token: res.text })).status).toBe(200)
    const del = await t.call('DELETE', `${TOKENS}/${claims(res.text).jti}`, { token: user.token })
    expect(del.status).toBe(204)
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token: res.text })).status).toBe(401)
  })

  test('errors: duplicate name 409, bad expiry 400, missing name 400, eleventh token 422', async () => {
    const other = await loginAs(t, 'limits@example.com', 'limits-password')
    const first = await t.call('POST', TOKENS, { token: other.token, body: { name: 'dup' } })
    expect(first.status).toBe(200)
    const dup = await t.call('POST', TOKENS, { token: other.token, body: { name: 'dup' } })
    expect(dup.status).toBe(409)
    for (const body of [
      { name: 'x', expires_in: 31536001 },
      { name: 'x', expires_in: -1 },
      { name: '' },
      {},
    ]) {
      expect((await t.call('POST', TOKENS, { token: other.token, body })).status).toBe(400)
    }
    for (let i = 1; i < 10; i++) {
      expect((await t.call('POST', TOKENS, { token: other.token, body: { name: `t${i}` } })).status).toBe(200)
    }
    const eleventh = await t.call('POST', TOKENS, { token: other.token, body: { name: 't10' } })
    expect(eleventh.status).toBe(422)
    expect((await t.call('GET', TOKENS, { token: other.token })).json).toHaveLength(10)
  })

  test('a user sees and deletes only their own tokens; deleting the user revokes them', async () => {
    const owner = await loginAs(t, 'owner@example.com', 'owner-password')
    const admin = await loginAs(t, 'boss@example.com', 'boss-password')
    const pat = await t.call('POST', TOKENS, { token: owner.token, body: { name: 'mine' } })
    const jti = claims(pat.text).jti
    expect((await t.call('GET', TOKENS, { token: admin.token })).json).toEqual([])
    await t.call('DELETE', `${TOKENS}/${jti}`, { token: admin.token })
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token: pat.text })).status).toBe(200)
    await t.call('DELETE', `/api/management/v1/useradm/users/${owner.userId}`, { token: admin.token })
    expect((await t.call('GET', '/api/management/v1/useradm/users/me', { token: pat.text })).status).toBe(401)
  })
})
