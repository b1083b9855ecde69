import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { sqliteOf } from '../../src/deps.ts'
import { acceptedDevice } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'

// Every management and device route, driven with hostile input: never a 5xx, never a stack trace
// on the wire, and a refused request changes no row.
setDefaultTimeout(300_000)

let t: TestApp
let admin: string
let deviceToken: string
let ids: Record<string, string>
beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
  const device = await acceptedDevice(t, admin)
  deviceToken = device.token
  const form = new FormData()
  form.append('artifact', new Blob([buildArtifact({ name: 'hostile-1' })]), 'h.mender')
  const artifact = await t.call('POST', '/api/management/v1/deployments/artifacts', {
    token: admin,
    raw: form,
  })
  ids = { device: device.id, artifact: artifact.headers.get('location')!.split('/').at(-1)! }
  // Background writers would blur "this request wrote nothing": check-ins stay buffered from here on.
  await t.services.deviceauth.stop()
  t.services.inventory.stop()
  // Nor do the event followers save their positions (about once a second) in the middle of a probe.
  t.services.stopWorkflows()
  await t.services.events.stop()
})
afterAll(() => t.close())

const enc = new TextEncoder()
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
const badUtf8 = new Uint8Array([
  0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x22, 0x7d,
])

type Body = { name: string; bytes: Uint8Array | string; type?: string }
const BODIES: Body[] = [
  { name: 'an array', bytes: '[]' },
  { name: 'a string', bytes: '"text"' },
  { name: 'a number', bytes: '12345' },
  { name: 'null', bytes: 'null' },
  {
    name: 'wrong types',
    bytes: JSON.stringify({ name: 5, status: [], email: {}, password: true, devices: 'x' }),
  },
  { name: 'huge numbers', bytes: '{"page":1e309,"max_devices":99999999999999999999999999,"n":-1e308}' },
  { name: 'deep JSON', bytes: deep(100_000) },
  {
    name: 'a long string',
    bytes: JSON.stringify({ name: 'x'.repeat(500_000), status: 'y'.repeat(100_000) }),
  },
  { name: 'bad UTF-8', bytes: badUtf8 },
  { name: 'duplicate keys', bytes: '{"status":"accepted","status":"rejected","name":"a","name":{}}' },
  { name: 'truncated JSON', bytes: '{"name": "a", ' },
  { name: 'a form', bytes: 'status=accepted&name=x', type: 'application/x-www-form-urlencoded' },
]

const LONG = 'x'.repeat(5000)
const PARAMS = [crypto.randomUUID(), LONG, '%FF%FE', '..%2F..%2Fetc', '99999999999999999999999', '-1', '%00']
const QUERIES = [
  '?page=99999999999999999999&per_page=-1',
  `?sort=${LONG}&status=%FF`,
  '?page=1&page=2&per_page=1&per_page=abc',
  '?device_type=%C3%28&artifact_name=%00',
]

type Route = { method: string; path: string }

/** Management and device routes of the app, as Elysia lists them. */
function targetRoutes(): Route[] {
  const seen = new Set<string>()
  const routes: Route[] = []
  for (const route of t.app.routes as Route[]) {
    if (!/^\/api\/(management|devices)\//.test(route.path)) continue
    const key = `${route.method} ${route.path}`
    // Logging out would end the admin token the other probes use.
    if (seen.has(key) || route.method === 'ALL' || route.path.endsWith('/logout')) continue
    // A granted event stream never ends, so reading its answer would not either; its refusals are
    // tested with the stream (test/console/events.test.ts).
    if (route.path.endsWith('/events/stream')) continue
    seen.add(key)
    routes.push(route)
  }
  return routes
}

/** A route's path with each parameter filled: known ids where they fit, else `value`. */
function fill(path: string, value: string): string {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    if (value !== '') return value
    if (name === 'id' && path.includes('artifacts')) return ids.artifact!
    return ids.device!
  })
}

const changes = () => (sqliteOf(t.deps).$client.query('SELECT total_changes() AS n').get() as { n: number }).n

type Probe = { method: string; path: string; body?: Body }

async function probe({ method, path, body }: Probe): Promise<string | undefined> {
  const token = path.startsWith('/api/devices/') ? deviceToken : admin
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (body) headers['content-type'] = body.type ?? 'application/json'
  const raw =
    body === undefined ? undefined : typeof body.bytes === 'string' ? enc.encode(body.bytes) : body.bytes
  const before = changes()
  const res = await t.call(method, path, { raw, headers })
  const wrote = changes() !== before
  const what = `${method} ${path.slice(0, 120)}${body ? ` with ${body.name}` : ''}`
  if (res.status >= 500) return `${what}: ${res.status} ${res.text.slice(0, 200)}`
  if (/\n\s+at |\.ts:\d+/.test(res.text)) return `${what}: a stack trace in the answer`
  if (res.status >= 400) {
    if (res.headers.get('content-type')?.includes('json') && typeof res.json?.error !== 'string') {
      return `${what}: ${res.status} without a Mender error body`
    }
    // A device's first auth request is refused (401) and recorded as pending, as in Mender.
    if (wrote && !path.endsWith('/auth_requests')) return `${what}: refused with ${res.status} but wrote rows`
  }
  return undefined
}

test('every management and device route survives hostile input', async () => {
  const routes = targetRoutes()
  expect(routes.length).toBeGreaterThan(60)
  const failures: string[] = []
  let probes = 0
  const run = async (p: Probe) => {
    probes++
    const failure = await probe(p)
    if (failure) failures.push(failure)
  }
  for (const route of routes) {
    for (const value of PARAMS)
      if (route.path.includes(':')) await run({ method: route.method, path: fill(route.path, value) })
    // A DELETE aims at nothing that exists, so that the ids the other probes use stay.
    const target = fill(route.path, route.method === 'DELETE' ? crypto.randomUUID() : '')
    for (const query of QUERIES) await run({ method: route.method, path: `${target}${query}` })
    if (['POST', 'PUT', 'PATCH'].includes(route.method)) {
      for (const body of BODIES) await run({ method: route.method, path: fill(route.path, ''), body })
      await run({ method: route.method, path: fill(route.path, crypto.randomUUID()), body: BODIES[4] })
    }
    // The wrong method on a known path.
    for (const method of ['PATCH', 'DELETE', 'PUT']) {
      if (method !== route.method) await run({ method, path: fill(route.path, crypto.randomUUID()) })
    }
  }
  expect(probes).toBeGreaterThan(1000)
  expect(failures).toEqual([])
})

test('nesting is counted outside strings only', async () => {
  const res = await t.call('PATCH', '/api/devices/v1/inventory/device/attributes', {
    token: deviceToken,
    body: [{ name: 'brackets', value: '['.repeat(200) }],
  })
  expect(res.status).toBe(200)
  const deepRes = await t.call('PATCH', '/api/devices/v1/inventory/device/attributes', {
    token: deviceToken,
    raw: `[{"name":"n","value":"v","x":${deep(101)}}]`,
    headers: { 'content-type': 'application/json' },
  })
  expect(deepRes.status).toBe(400)
  expect(deepRes.json.error).toContain('failed to decode request body')
})
