import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const BASE = '/api/management/v1/useradm'

let t: TestApp
let alice: { token: string; userId: string }
let bob: { token: string; userId: string }
beforeAll(async () => {
  t = await createTestApp()
  alice = await loginAs(t, 'alice@example.com', 'alice-secret-1')
  bob = await loginAs(t, 'bob@example.com', 'bob-secret-12')
})
afterAll(() => t.close())

describe.each(['/settings', '/settings/me'])('%s', (path) => {
  test('empty object without ETag until saved, then the object with a fresh ETag per save', async () => {
    const fresh = await createTestApp()
    const { token } = await loginAs(fresh, 'one@example.com', 'one-password')
    const empty = await fresh.call('GET', BASE + path, { token })
    expect(empty.status).toBe(200)
    expect(empty.json).toEqual({})
    expect(empty.headers.get('etag')).toBeNull()

    const save = await fresh.call('POST', BASE + path, {
      token,
      body: { theme: 'dark', columns: [1, 2], nested: { a: 1 } },
    })
    expect(save.status).toBe(201)
    expect(save.text).toBe('')
    const got = await fresh.call('GET', BASE + path, { token })
    expect(got.json).toEqual({ theme: 'dark', columns: [1, 2], nested: { a: 1 } })
    const etag = got.headers.get('etag')
    expect(etag).toMatch(/^[0-9a-f-]{36}$/)

    await fresh.call('POST', BASE + path, { token, body: { theme: 'light' } })
    const replaced = await fresh.call('GET', BASE + path, { token })
    expect(replaced.json).toEqual({ theme: 'light' })
    expect(replaced.headers.get('etag')).not.toBe(etag)
    await fresh.close()
  })

  test('If-Match: matching etag saves, stale etag is 412 and changes nothing', async () => {
    await t.call('POST', BASE + path, { token: alice.token, body: { v: 1 } })
    const current = await t.call('GET', BASE + path, { token: alice.token })
    const etag = current.headers.get('etag')!
    const ok = await t.call('POST', BASE + path, {
      token: alice.token,
      body: { v: 2 },
      headers: { 'if-match': etag },
    })
    expect(ok.status).toBe(201)
    const stale = await t.call('POST', BASE + path, {
      token: alice.token,
      body: { v: 3 },
      headers: { 'if-match': etag },
    })
    expect(stale.status).toBe(412)
    expect(stale.json.error).toBe("ETag doesn't match")
    expect((await t.call('GET', BASE + path, { token: alice.token })).json).toEqual({ v: 2 })
  })

  test('validation: non-object 400, too many keys 400, long key 400, long string 400', async () => {
    const bodies: unknown[] = [
      [1, 2],
      'text',
      Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`k${i}`, i])),
      { ['k'.repeat(129)]: 1 },
      { k: 'v'.repeat(4097) },
    ]
    for (const body of bodies) {
      const res = await t.call('POST', BASE + path, { token: alice.token, body })
      expect(res.status).toBe(400)
    }
    const tooBig = await t.call('POST', BASE + path, {
      token: alice.token,
      raw: JSON.stringify({ k: 'x'.repeat(1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    })
    expect(tooBig.status).toBe(413)
  })
})

test('global settings are shared by the tenant; settings/me are per user', async () => {
  await t.call('POST', `${BASE}/settings`, { token: alice.token, body: { shared: true } })
  expect((await t.call('GET', `${BASE}/settings`, { token: bob.token })).json).toEqual({ shared: true })
  await t.call('POST', `${BASE}/settings/me`, { token: alice.token, body: { mine: 'alice' } })
  await t.call('POST', `${BASE}/settings/me`, { token: bob.token, body: { mine: 'bob' } })
  expect((await t.call('GET', `${BASE}/settings/me`, { token: alice.token })).json).toEqual({ mine: 'alice' })
  expect((await t.call('GET', `${BASE}/settings/me`, { token: bob.token })).json).toEqual({ mine: 'bob' })
})
