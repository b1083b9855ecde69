import { afterAll, beforeAll, expect, test } from 'bun:test'
import { gunzipSync } from 'node:zlib'
import { contentSecurityPolicy } from '../../src/console/routes.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'

let t: TestApp

beforeAll(async () => {
  t = await createTestApp({ BENDER_STORAGE_PUBLIC_URL: 'https://files.example:9443' })
})
afterAll(() => t.close())

const get = (path: string, headers: Record<string, string> = {}) =>
  t.app.handle(new Request(`http://localhost${path}`, { headers }))

test('/ is the console page under a strict CSP: no inline script, only its own assets and the storage proxy', async () => {
  const res = await get('/')
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('text/html')
  const csp = res.headers.get('content-security-policy')!
  expect(csp).toBe(contentSecurityPolicy(t.deps.config))
  expect(csp).toContain("script-src 'self'")
  expect(csp).not.toContain('unsafe')
  expect(csp).toContain("connect-src 'self' https://files.example:9443")
  expect(csp).toContain("frame-ancestors 'none'")
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  const html = await res.text()
  // Every script is an external file: none with a body.
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
  expect(html).not.toContain('http://')
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
  expect(assets.some((a) => a.endsWith('.js'))).toBe(true)
  expect(assets.some((a) => a.endsWith('.css'))).toBe(true)
  for (const asset of assets) {
    const file = await get(asset, { 'accept-encoding': 'gzip, br' })
    expect(file.status).toBe(200)
    expect(file.headers.get('content-encoding')).toBe('gzip')
    expect(file.headers.get('cache-control')).toContain('immutable')
    const plain = await get(asset)
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(gunzipSync(new Uint8Array(await file.arrayBuffer()))).toEqual(
      Buffer.from(await plain.arrayBuffer()),
    )
  }
  // The terminal (xterm.js) is not part of the first load: the entry script names its chunk.
  expect(assets.some((a) => a.includes('terminal'))).toBe(false)
  const entry = await (await get(assets.find((a) => a.endsWith('.js'))!)).text()
  const terminal = entry.match(/\/assets\/console-terminal-[\w-]+\.js/)?.[0]
  expect(terminal).toBeDefined()
  const chunk = await get(terminal!)
  expect(chunk.status).toBe(200)
  expect(await chunk.text()).toContain('xterm')
})

test('the API keeps its own answers: unknown API paths stay 404 and unknown assets are 404 in Mender form', async () => {
  const api = await get('/api/management/v1/nothing-here')
  expect(api.status).toBe(404)
  expect(await api.json()).toMatchObject({ error: 'not found' })
  const asset = await get('/assets/console-missing.js')
  expect(asset.status).toBe(404)
  expect(((await asset.json()) as { request_id: string }).request_id).toBeString()
})
