import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createLogger } from '../../src/log.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

let t: TestApp
let token: string

beforeAll(async () => {
  t = await createTestApp()
  token = (await loginAs(t)).token
})
afterAll(() => t.close())

const USERS = '/api/management/v1/useradm/users'
const SETTINGS = '/api/management/v1/useradm/settings'

/** A body without a declared length: sent chunked, as a browser's streamed or a Go client's body. */
const chunked = (text: string) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text))
      controller.close()
    },
  })

describe('cross-site requests', () => {
  test('the JWT cookie does not authorize a change', async () => {
    const res = await t.call('POST', USERS, {
      headers: { cookie: `JWT=${token}` },
      body: { email: 'csrf@example.com', password: 'csrf-password-1' },
    })
    expect(res.status).toBe(401)
    expect(await t.services.useradm.findUserByEmail('csrf@example.com')).toBeUndefined()
  })

  test('the JWT cookie still works for GET (downloads a browser follows)', async () => {
    const res = await t.call('GET', `${USERS}/me`, { headers: { cookie: `JWT=${token}` } })
    expect(res.status).toBe(200)
  })

  test.each([
    ['a form-encoded body', { 'content-type': 'application/x-www-form-urlencoded' }, 'k=v'],
    ['a text/plain body', { 'content-type': 'text/plain' }, '{"k":"v"}'],
  ])('%s on a JSON route is 415 and stores nothing', async (_name, headers, body) => {
    const res = await t.call('POST', SETTINGS, { token, headers, raw: body })
    expect(res.status).toBe(415)
    expect(res.json.error).toBe("Bad Content-Type, expected 'application/json'")
    expect((await t.call('GET', SETTINGS, { token })).json).toEqual({})
  })

  test('a chunked text/plain body is 415 too', async () => {
    const res = await t.call('POST', SETTINGS, {
      token,
      headers: { 'content-type': 'text/plain' },
      raw: chunked('{"k":"v"}'),
    })
    expect(res.status).toBe(415)
    expect((await t.call('GET', SETTINGS, { token })).json).toEqual({})
  })

  test('chunked JSON, as Mender clients send it, is read', async () => {
    const res = await t.call('POST', SETTINGS, {
      token,
      headers: { 'content-type': 'application/json' },
      raw: chunked('{"k":"v"}'),
    })
    expect(res.status).toBe(201)
  })
})

describe('query values that are Object.prototype keys', () => {
  const paths = [
    '/api/management/v1/deployments/deployments?status=%s',
    '/api/management/v2/deployments/deployments?status=%s',
    '/api/management/v1/deployments/deployments?type=%s',
    '/api/management/v1/deployments/artifacts/list?sort=%s',
    '/api/management/v2/deployments/artifacts?sort=%s',
    '/api/management/v2/devauth/devices?status=%s',
    '/api/management/v1/inventory/devices?sort=%s',
    '/api/management/v1/inventory/devices?%s=x',
    '/api/management/v1/inventory/devices?status=%s',
    '/api/management/v1/useradm/users?%s=x',
  ]
  test.each(
    paths.flatMap((path) => ['constructor', '__proto__', 'toString'].map((key) => path.replace('%s', key))),
  )('%s is answered without a 5xx', async (path) => {
    const res = await t.call('GET', path, { token })
    expect(res.status).toBeLessThan(500)
  })

  test('an unknown deployment status is a 400 naming it', async () => {
    const res = await t.call('GET', '/api/management/v1/deployments/deployments?status=constructor', {
      token,
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toBe('unknown status constructor')
  })
})

describe('unbounded input is a 400, never a 500', () => {
  test.each([
    '/api/management/v2/devauth/devices?page=99999999999999999999',
    '/api/management/v1/inventory/devices?page=99999999999999999999',
    '/api/management/v1/deployments/deployments?page=99999999999999999999',
    '/api/management/v2/devauth/devices?per_page=99999999999999999999',
  ])('%s', async (path) => {
    const res = await t.call('GET', path, { token })
    expect(res.status).toBe(400)
  })

  test('a v2 search with thousands of sort keys', async () => {
    const sort = Array.from({ length: 5000 }, (_, i) => ({
      scope: 'inventory',
      attribute: `a${i}`,
      order: 'asc',
    }))
    const res = await t.call('POST', '/api/management/v2/inventory/filters/search', { token, body: { sort } })
    expect(res.status).toBe(400)
    expect(res.json.error).toBe('sort: at most 20 entries')
  })

  test('every list of a v2 search has its bound, answered with its own message', async () => {
    const filter = { scope: 'inventory', attribute: 'a', type: '$eq', value: 'x' }
    const bodies: [string, unknown[]][] = [
      ['filters: at most 100 entries', Array.from({ length: 101 }, () => filter)],
      [
        'attributes: at most 1000 entries',
        Array.from({ length: 1001 }, () => ({ scope: 'inventory', attribute: 'a' })),
      ],
      ['device_ids: at most 10000 entries', Array.from({ length: 10_001 }, (_, i) => `id-${i}`)],
    ]
    for (const [message, list] of bodies) {
      const field = message.split(':')[0]!
      const res = await t.call('POST', '/api/management/v2/inventory/filters/search', {
        token,
        body: { [field]: list },
      })
      expect(res.status).toBe(400)
      expect(res.json.error).toBe(message)
    }
  })

  test('a v2 search on a page beyond any offset', async () => {
    const res = await t.call('POST', '/api/management/v2/inventory/filters/search', {
      token,
      body: { page: 1e20 },
    })
    expect(res.status).toBe(400)
  })

  test('deeply nested JSON', async () => {
    const deep = `${'['.repeat(400_000)}${']'.repeat(400_000)}`
    const res = await t.call('POST', SETTINGS, {
      token,
      headers: { 'content-type': 'application/json' },
      raw: `{"k":${deep}}`,
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toBe('failed to decode request body: nested deeper than 100 levels')
  })

  test('an internal error is logged with the files of its stack named from the project root', () => {
    const lines: string[] = []
    const err = new Error('boom')
    err.stack = `Error: boom\n    at handler (${process.cwd()}/src/app.ts:1:2)\n    at file:///$bunfs/root/src/main.ts:3:4`
    createLogger('error', (line) => lines.push(line)).error('internal error', { err })
    expect(lines[0]).not.toContain(process.cwd())
    expect(lines[0]).not.toContain('$bunfs')
    expect(lines[0]).toContain('at handler (src/app.ts:1:2)')
    expect(lines[0]).toContain('at src/main.ts:3:4')
  })
})
