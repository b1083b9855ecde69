import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Elysia, t as schema } from 'elysia'
import { sqliteOf } from '../../src/deps.ts'
import { ConflictError } from '../../src/gateway/errors.ts'
import { gateway } from '../../src/gateway/gateway.ts'
import { createRouteIndex } from '../../src/gateway/routes.ts'
import { createLogger } from '../../src/log.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

let t: TestApp
let token: string
beforeAll(async () => {
  t = await createTestApp()
  token = (await loginAs(t)).token
})
afterAll(() => t.close())

describe('request id', () => {
  test('echoes X-MEN-RequestID on success and in error bodies', async () => {
    const ok = await t.call('GET', '/api/internal/v1/useradm/alive', {
      headers: { 'x-men-requestid': 'abc-123' },
    })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('x-men-requestid')).toBe('abc-123')
    const err = await t.call('GET', '/api/nope', { headers: { 'x-men-requestid': 'abc-456' } })
    expect(err.headers.get('x-men-requestid')).toBe('abc-456')
    expect(err.json).toEqual({ error: 'not found', request_id: 'abc-456' })
  })

  test('mints a UUID when none is sent, the same in header and body', async () => {
    const res = await t.call('GET', '/api/management/v1/useradm/users')
    const id = res.headers.get('x-men-requestid')
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(res.json.request_id).toBe(id)
  })
})

describe('routing', () => {
  test('unknown paths are 404 not found with a JSON body', async () => {
    const res = await t.call('POST', '/api/management/v1/nothing/here', { body: {} })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(res.json.error).toBe('not found')
  })

  test('a known path with the wrong method is 405 with Allow', async () => {
    const res = await t.call('PATCH', '/api/management/v1/useradm/users/some-id', { token })
    expect(res.status).toBe(405)
    expect(res.json.error).toBe('method not allowed')
    expect(res.headers.get('allow')).toBe('DELETE, GET, HEAD, PUT')
  })

  test('OPTIONS on a known path lists the methods', async () => {
    const res = await t.call('OPTIONS', '/api/management/v1/useradm/users')
    expect(res.status).toBe(200)
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST')
  })
})

describe('JSON bodies', () => {
  const USERS = '/api/management/v1/useradm/users'

  test('over 1 MiB is 413, with or without Content-Length, and nothing is stored', async () => {
    const big = JSON.stringify({ email: 'big@example.com', password: 'x'.repeat(1024 * 1024) })
    const declared = await t.call('POST', USERS, {
      token,
      raw: big,
      headers: { 'content-type': 'application/json', 'content-length': String(big.length) },
    })
    expect(declared.status).toBe(413)
    const chunks = new TextEncoder().encode(big)
    const chunked = await t.call('POST', USERS, {
      token,
      raw: new ReadableStream({
        start(controller) {
          for (let i = 0; i < chunks.length; i += 65536) controller.enqueue(chunks.slice(i, i + 65536))
          controller.close()
        },
      }),
      headers: { 'content-type': 'application/json' },
    })
    expect(chunked.status).toBe(413)
    expect(chunked.json.error).toBe('request body too large')
    expect(await t.services.useradm.findUserByEmail('big@example.com')).toBeUndefined()
  })

  test('a declared non-JSON content type is 415; multipart on a JSON route too', async () => {
    const body = 'email=a@example.com'
    const text = await t.call('POST', USERS, {
      token,
      raw: body,
      headers: { 'content-type': 'text/plain', 'content-length': String(body.length) },
    })
    expect(text.status).toBe(415)
    expect(text.json.error).toBe("Bad Content-Type, expected 'application/json'")
    const multipart = await t.call('POST', USERS, {
      token,
      raw: '--b\r\n\r\n--b--',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
    })
    expect(multipart.status).toBe(415)
  })

  test('chunked bodies without a length are read as JSON, without a content type or with JSON; another is 415', async () => {
    const send = (email: string, type?: string) => {
      const bytes = new TextEncoder().encode(JSON.stringify({ email, password: 'long-enough' }))
      return t.call('POST', USERS, {
        token,
        raw: new ReadableStream({
          start(controller) {
            controller.enqueue(bytes.slice(0, 10))
            controller.enqueue(bytes.slice(10))
            controller.close()
          },
        }),
        headers: type ? { 'content-type': type } : {},
      })
    }
    expect((await send('chunked0@example.com')).status).toBe(201)
    expect((await send('chunked1@example.com', 'application/json')).status).toBe(201)
    expect((await send('chunked2@example.com', 'text/plain')).status).toBe(415)
    expect(await t.services.useradm.findUserByEmail('chunked2@example.com')).toBeUndefined()
  })

  test('malformed JSON is 400', async () => {
    const res = await t.call('POST', USERS, {
      token,
      raw: '{"email":',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toStartWith('failed to decode request body')
  })
})

describe('health and docs', () => {
  test.each(['useradm', 'devauth', 'inventory', 'deployments'])(
    '%s health and alive answer 204',
    async (name) => {
      for (const kind of ['health', 'alive']) {
        const res = await t.call('GET', `/api/internal/v1/${name}/${kind}`)
        expect(res.status).toBe(204)
      }
    },
  )

  test('health is 503 when the database is gone', async () => {
    const broken = await createTestApp()
    sqliteOf(broken.deps).$client.close()
    const res = await broken.call('GET', '/api/internal/v1/useradm/health')
    expect(res.status).toBe(503)
    expect(res.json.error).toBe('service unavailable: database')
    await broken.close()
  })

  test('the OpenAPI document lists the routes, with a UI beside it', async () => {
    const spec = await t.call('GET', '/api/docs/json')
    expect(spec.status).toBe(200)
    expect(spec.json.openapi).toStartWith('3.')
    expect(Object.keys(spec.json.paths)).toContain('/api/management/v1/useradm/users/{id}')
    const create = spec.json.paths['/api/management/v1/useradm/users'].post
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['email', 'password'])
    const ui = await t.call('GET', '/api/docs')
    expect(ui.status).toBe(200)
    expect(ui.headers.get('content-type')).toContain('text/html')
  })

  test('the OpenAPI document states the inventory limits the route schemas enforce', async () => {
    const spec = await t.call('GET', '/api/docs/json')
    const bodyOf = (path: string, method: string) =>
      spec.json.paths[path][method].requestBody.content['application/json'].schema
    const search = bodyOf('/api/management/v2/inventory/filters/search', 'post').properties
    expect(search.filters.maxItems).toBe(100)
    expect(search.sort.maxItems).toBe(20)
    expect(search.attributes.maxItems).toBe(1000)
    expect(search.device_ids.maxItems).toBe(10_000)
    for (const [path, method] of [
      ['/api/devices/v1/inventory/device/attributes', 'patch'],
      ['/api/management/v1/inventory/devices/{id}/tags', 'put'],
    ] as const) {
      const name = bodyOf(path, method).items.properties.name
      expect([name.minLength, name.maxLength]).toEqual([1, 1024])
    }
  })

  test('the docs page loads scripts from bender only', async () => {
    const ui = await t.call('GET', '/api/docs')
    const sources = [...ui.text.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((match) => match[1])
    expect(sources).toEqual(['/api/docs/scalar.js'])
    expect(ui.headers.get('content-security-policy')).toContain("script-src 'self'")
    const script = await t.call('GET', '/api/docs/scalar.js')
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toContain('javascript')
    expect(script.text.length).toBeGreaterThan(100_000)
  })

  test('every response says nosniff and no-store, errors included; no HSTS without TLS', async () => {
    for (const path of ['/api/internal/v1/useradm/alive', '/api/management/v1/useradm/users', '/nowhere']) {
      const res = await t.call('GET', path)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('strict-transport-security')).toBeNull()
    }
  })
})

describe('error handler', () => {
  const lines: string[] = []
  const routes = createRouteIndex()
  const app = new Elysia()
    .use(
      gateway(
        createLogger('debug', (line) => lines.push(line)),
        routes,
      ),
    )
    .get('/boom', () => {
      throw new Error('secret database detail')
    })
    .get('/conflict', () => {
      throw new ConflictError('already there', { metadata: { conflict: { id: 'x' } } })
    })
    .get('/typed', ({ query }) => query, { query: schema.Object({ n: schema.Numeric() }) })
  routes.load(app.routes)
  const get = (path: string) =>
    app.handle(new Request(`http://localhost${path}`, { headers: { 'x-men-requestid': 'r1' } }))

  test('unexpected errors are 500 internal error; the cause is logged with the request id, never sent', async () => {
    const res = await get('/boom')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ error: 'internal error', request_id: 'r1' })
    expect(text).not.toContain('secret')
    expect(lines.some((l) => l.includes('request_id=r1') && l.includes('secret database detail'))).toBe(true)
  })

  test('typed errors keep their status and extra fields', async () => {
    const res = await get('/conflict')
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({
      error: 'already there',
      metadata: { conflict: { id: 'x' } },
      request_id: 'r1',
    })
  })

  test('validation errors are 400 with the field named', async () => {
    const res = await get('/typed?n=abc')
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toContain('"n"')
  })

  test('debug logging writes one access line per request with its id and real status', async () => {
    await get('/conflict')
    await Bun.sleep(5) // the access line is written after the response is sent
    expect(
      lines.some(
        (l) => l.includes('msg=request') && l.includes('path=/conflict') && l.includes('status=409'),
      ),
    ).toBe(true)
    expect(
      lines.some(
        (l) => l.includes('msg=request') && l.includes('path=/conflict') && l.includes('request_id=r1'),
      ),
    ).toBe(true)
  })
})

describe('authentication comes first', () => {
  test('a request without a valid token is 401 even when its body or query is invalid', async () => {
    const badBody = await t.call('POST', '/api/management/v1/useradm/users', { body: { email: 42 } })
    expect(badBody.status).toBe(401)
    const noBody = await t.call('POST', '/api/management/v1/useradm/settings/tokens')
    expect(noBody.status).toBe(401)
    const badQuery = await t.call('GET', '/api/management/v1/useradm/users?created_after=soon')
    expect(badQuery.status).toBe(401)
    const withToken = await t.call('GET', '/api/management/v1/useradm/users?created_after=soon', { token })
    expect(withToken.status).toBe(400)
  })
})
