import { afterEach, beforeEach, expect, test } from 'bun:test'
import { SETUP_TOKEN_TTL_MS } from '../../src/services/useradm/setup.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'

let t: TestApp

beforeEach(async () => {
  t = await createTestApp()
})
afterEach(() => t.close())

const setup = (body: unknown) => t.call('POST', '/api/management/v1/useradm/setup', { body })
const login = (email: string, password: string) =>
  t.call('POST', '/api/management/v1/useradm/auth/login', {
    headers: { authorization: `Basic ${btoa(`${email}:${password}`)}` },
  })

test('the setup token creates the first user once; the user can then log in', async () => {
  expect((await t.call('GET', '/api/management/v1/useradm/setup')).json).toEqual({ required: true })
  const token = (await t.services.setup.issueToken())!
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
  const made = await setup({ token, email: 'First@Example.com', password: 'first-password' })
  expect(made.status).toBe(201)
  expect(made.headers.get('location')).toMatch(/^\/api\/management\/v1\/useradm\/users\/[0-9a-f-]{36}$/)
  expect((await login('first@example.com', 'first-password')).status).toBe(200)
  expect((await t.call('GET', '/api/management/v1/useradm/setup')).json).toEqual({ required: false })
  const again = await setup({ token, email: 'second@example.com', password: 'second-password' })
  expect(again.status).toBe(409)
  expect(again.json.error).toBe('the first user already exists: sign in instead')
  // Once a user exists there is no token to print.
  expect(await t.services.setup.issueToken()).toBeUndefined()
})

test('a wrong, missing, replaced or expired token creates nothing', async () => {
  const old = (await t.services.setup.issueToken())!
  const token = (await t.services.setup.issueToken())!
  for (const wrong of [old, `${token}x`, '', 'a'.repeat(43)]) {
    const res = await setup({ token: wrong, email: 'x@example.com', password: 'x-password' })
    expect(res.status).toBe(403)
    expect(res.json).toMatchObject({
      error: 'the setup link is invalid or has expired: restart the server for a new one',
    })
  }
  expect((await setup({ email: 'x@example.com', password: 'x-password' })).status).toBe(400)
  t.clock.advance(SETUP_TOKEN_TTL_MS / 1000)
  expect((await setup({ token, email: 'x@example.com', password: 'x-password' })).status).toBe(403)
  expect(await t.services.useradm.hasUsers()).toBe(false)
})

test('a refused password keeps the link usable; two requests at once make one user', async () => {
  const token = (await t.services.setup.issueToken())!
  const short = await setup({ token, email: 'first@example.com', password: 'short' })
  expect(short.status).toBe(422)
  const [a, b] = await Promise.all([
    setup({ token, email: 'a@example.com', password: 'a-password' }),
    setup({ token, email: 'b@example.com', password: 'b-password' }),
  ])
  expect([a.status, b.status].sort()).toEqual([201, 403])
  expect((await t.services.useradm.listUsers('', {})).length).toBe(1)
})
