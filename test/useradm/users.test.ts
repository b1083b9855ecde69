import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const USERS = '/api/management/v1/useradm/users'
const LOGIN = '/api/management/v1/useradm/auth/login'
const basic = (email: string, password: string) => ({
  authorization: `Basic ${btoa(`${email}:${password}`)}`,
})

let t: TestApp
let admin: { token: string; userId: string }
beforeAll(async () => {
  t = await createTestApp()
  admin = await loginAs(t, 'admin@example.com', 'admin-secret-1')
})
afterAll(() => t.close())

describe('create', () => {
  test('201 with Location; the new user can log in', async () => {
    const res = await t.call('POST', USERS, {
      token: admin.token,
      body: { email: 'New@Example.com', password: 'new-user-pw' },
    })
    expect(res.status).toBe(201)
    expect(res.text).toBe('')
    const location = res.headers.get('location')!
    expect(location).toMatch(new RegExp(`^${USERS}/[0-9a-f-]{36}$`))
    const got = await t.call('GET', location, { token: admin.token })
    expect(got.status).toBe(200)
    expect(got.json).toMatchObject({ email: 'new@example.com' })
    expect(got.json.password).toBeUndefined()
    expect(got.json.created_ts).toBe(got.json.updated_ts)
    const login = await t.call('POST', LOGIN, { headers: basic('new@example.com', 'new-user-pw') })
    expect(login.status).toBe(200)
  })

  test.each([
    [{ email: 'short@example.com', password: 'seven77' }, 422, 'password: must be minimum 8 characters long'],
    [
      { email: 'long@example.com', password: 'x'.repeat(257) },
      422,
      'password: the length must be no more than 256',
    ],
    [
      { email: 'ascii@example.com', password: 'pässwörd-long' },
      422,
      'password: must contain ASCII characters only',
    ],
    [
      { email: 'same@example.com', password: 'same@example.com' },
      422,
      'password: must not be the email address',
    ],
    [{ email: 'not-an-email', password: 'long-enough' }, 400, 'email: must be a valid email address'],
    [{ email: 'ünï@example.com', password: 'long-enough' }, 400, 'email: must be a valid email address'],
    [{ email: 'admin@EXAMPLE.com', password: 'long-enough' }, 422, 'user with a given email already exists'],
  ])('%j → %i', async (body, status, error) => {
    const before = (await t.services.useradm.listUsers('', {})).length
    const res = await t.call('POST', USERS, { token: admin.token, body })
    expect(res.status).toBe(status)
    expect(res.json).toEqual({ error, request_id: res.headers.get('x-men-requestid') })
    expect((await t.services.useradm.listUsers('', {})).length).toBe(before)
  })

  test('missing fields and wrong types are 400', async () => {
    for (const body of [
      { email: 'a@example.com' },
      { password: 'long-enough' },
      { email: 1, password: 'x' },
    ]) {
      const res = await t.call('POST', USERS, { token: admin.token, body })
      expect(res.status).toBe(400)
    }
  })

  test('requires a token', async () => {
    const res = await t.call('POST', USERS, { body: { email: 'x@example.com', password: 'long-enough' } })
    expect(res.status).toBe(401)
  })
})

describe('list and get', () => {
  test('lists users with id, email and time filters', async () => {
    const a = await t.services.useradm.createUser('', {
      email: 'filter-a@example.com',
      password: 'long-enough',
    })
    t.clock.advance(10)
    const b = await t.services.useradm.createUser('', {
      email: 'filter-b@example.com',
      password: 'long-enough',
    })
    const all = await t.call('GET', USERS, { token: admin.token })
    expect(all.status).toBe(200)
    expect(all.json.map((u: { email: string }) => u.email)).toContain('filter-a@example.com')

    const byId = await t.call('GET', `${USERS}?id=${a.id}&id=${b.id}`, { token: admin.token })
    expect(byId.json.map((u: { id: string }) => u.id).sort()).toEqual([a.id, b.id].sort())
    const byEmail = await t.call('GET', `${USERS}?email=FILTER-B@example.com`, { token: admin.token })
    expect(byEmail.json).toEqual([expect.objectContaining({ id: b.id })])

    const bCreated = Math.floor(Date.parse(b.created_ts) / 1000)
    const after = await t.call('GET', `${USERS}?id=${a.id}&id=${b.id}&created_after=${bCreated - 5}`, {
      token: admin.token,
    })
    expect(after.json.map((u: { id: string }) => u.id)).toEqual([b.id])
    const before = await t.call('GET', `${USERS}?id=${a.id}&id=${b.id}&created_before=${bCreated - 5}`, {
      token: admin.token,
    })
    expect(before.json.map((u: { id: string }) => u.id)).toEqual([a.id])
    const updated = await t.call('GET', `${USERS}?id=${a.id}&updated_after=${bCreated + 100}`, {
      token: admin.token,
    })
    expect(updated.json).toEqual([])
    const bad = await t.call('GET', `${USERS}?created_after=yesterday`, { token: admin.token })
    expect(bad.status).toBe(400)
  })

  test('me and unknown ids', async () => {
    const me = await t.call('GET', `${USERS}/me`, { token: admin.token })
    expect(me.json.id).toBe(admin.userId)
    const missing = await t.call('GET', `${USERS}/00000000-0000-4000-8000-000000000000`, {
      token: admin.token,
    })
    expect(missing.status).toBe(404)
    expect(missing.json.error).toBe('user not found')
  })
})

describe('update', () => {
  test('changing your own email or password needs the current password', async () => {
    const u = await loginAs(t, 'self@example.com', 'self-password-1')
    const noCurrent = await t.call('PUT', `${USERS}/me`, {
      token: u.token,
      body: { email: 'self2@example.com' },
    })
    expect(noCurrent.status).toBe(422)
    const wrong = await t.call('PUT', `${USERS}/me`, {
      token: u.token,
      body: { password: 'brand-new-pw', current_password: 'not-it-at-all' },
    })
    expect(wrong.status).toBe(422)
    const ok = await t.call('PUT', `${USERS}/${u.userId}`, {
      token: u.token,
      body: { email: 'Self2@example.com', current_password: 'self-password-1' },
    })
    expect(ok.status).toBe(204)
    const me = await t.call('GET', `${USERS}/me`, { token: u.token })
    expect(me.json.email).toBe('self2@example.com')
    expect(Date.parse(me.json.updated_ts)).toBeGreaterThanOrEqual(Date.parse(me.json.created_ts))
  })

  test('a password change revokes the other tokens of that user but keeps the caller’s', async () => {
    const first = await loginAs(t, 'rotate@example.com', 'rotate-password')
    const second = await t.call('POST', LOGIN, { headers: basic('rotate@example.com', 'rotate-password') })
    const res = await t.call('PUT', `${USERS}/me`, {
      token: first.token,
      body: { password: 'rotated-password', current_password: 'rotate-password' },
    })
    expect(res.status).toBe(204)
    expect((await t.call('GET', `${USERS}/me`, { token: first.token })).status).toBe(200)
    expect((await t.call('GET', `${USERS}/me`, { token: second.text })).status).toBe(401)
    const oldPw = await t.call('POST', LOGIN, { headers: basic('rotate@example.com', 'rotate-password') })
    expect(oldPw.status).toBe(401)
    const newPw = await t.call('POST', LOGIN, { headers: basic('rotate@example.com', 'rotated-password') })
    expect(newPw.status).toBe(200)
  })

  test('nobody sets another user’s password; another user’s email can be changed', async () => {
    const other = await t.services.useradm.createUser('', {
      email: 'other@example.com',
      password: 'other-password',
    })
    const pw = await t.call('PUT', `${USERS}/${other.id}`, {
      token: admin.token,
      body: { password: 'hijacked-pw' },
    })
    expect(pw.status).toBe(422)
    const email = await t.call('PUT', `${USERS}/${other.id}`, {
      token: admin.token,
      body: { email: 'other2@example.com' },
    })
    expect(email.status).toBe(204)
  })

  test('validation: empty update 400, bad email 400, duplicate 422, unknown user 404', async () => {
    const empty = await t.call('PUT', `${USERS}/me`, { token: admin.token, body: {} })
    expect(empty.status).toBe(400)
    const bad = await t.call('PUT', `${USERS}/me`, {
      token: admin.token,
      body: { email: 'nope', current_password: 'admin-secret-1' },
    })
    expect(bad.status).toBe(400)
    await t.services.useradm.createUser('', { email: 'taken@example.com', password: 'taken-password' })
    const dup = await t.call('PUT', `${USERS}/me`, {
      token: admin.token,
      body: { email: 'taken@example.com', current_password: 'admin-secret-1' },
    })
    expect(dup.status).toBe(422)
    const missing = await t.call('PUT', `${USERS}/00000000-0000-4000-8000-000000000000`, {
      token: admin.token,
      body: { email: 'ghost@example.com' },
    })
    expect(missing.status).toBe(404)
  })

  test('v2 users/me changes the password with the current one', async () => {
    const u = await loginAs(t, 'v2@example.com', 'v2-password-1')
    const wrong = await t.call('PUT', '/api/management/v2/useradm/users/me', {
      token: u.token,
      body: { password: 'v2-password-2', current_password: 'wrong-one-here' },
    })
    expect(wrong.status).toBe(422)
    const ok = await t.call('PUT', '/api/management/v2/useradm/users/me', {
      token: u.token,
      body: { password: 'v2-password-2', current_password: 'v2-password-1' },
    })
    expect(ok.status).toBe(204)
    expect((await t.call('POST', LOGIN, { headers: basic('v2@example.com', 'v2-password-2') })).status).toBe(
      200,
    )
  })
})

describe('delete', () => {
  test('204, the user’s tokens stop working, unknown ids are 204 too', async () => {
    const victim = await loginAs(t, 'victim@example.com', 'victim-password')
    const res = await t.call('DELETE', `${USERS}/${victim.userId}`, { token: admin.token })
    expect(res.status).toBe(204)
    expect((await t.call('GET', `${USERS}/me`, { token: victim.token })).status).toBe(401)
    expect((await t.call('GET', `${USERS}/${victim.userId}`, { token: admin.token })).status).toBe(404)
    const again = await t.call('DELETE', `${USERS}/${victim.userId}`, { token: admin.token })
    expect(again.status).toBe(204)
  })
})

describe('plans', () => {
  test('plans is an empty list and plan_binding reports the device limit', async () => {
    expect((await t.call('GET', '/api/management/v1/useradm/plans', { token: admin.token })).json).toEqual([])
    const binding = await t.call('GET', '/api/management/v1/useradm/plan_binding', { token: admin.token })
    expect(binding.json).toEqual({ limits: { devices: 0 } })
  })
})
