import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { addDevice, expectCountsConsistent, scopeOf } from './helpers.ts'

let t: TestApp
let token: string
beforeAll(async () => {
  t = await createTestApp()
  token = (await loginAs(t)).token
})
afterAll(() => t.close())

const V1 = '/api/management/v1/inventory'
const call = (
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) =>
  t.call(method, `${V1}${path}`, {
    token,
    headers: { 'x-men-requestid': 'rid-1', ...options.headers },
    body: options.body,
  })

let n = 0
/** A fresh device id per test, so tests sharing the app do not see each other's devices. */
const fresh = async (options: Parameters<typeof addDevice>[2] = {}) => {
  const id = `dev-${++n}`
  await addDevice(t, id, options)
  return id
}

function expectError(res: { status: number; json: any }, status: number, message?: string) {
  expect(res.status).toBe(status)
  expect(res.json.request_id).toBe('rid-1')
  if (message) expect(res.json.error).toContain(message)
  else expect(res.json.error).toBeString()
}

describe('auth', () => {
  test('every management route needs a user token', async () => {
    for (const [method, path] of [
      ['GET', '/devices'],
      ['GET', '/devices/x'],
      ['DELETE', '/devices/x'],
      ['PUT', '/devices/x/tags'],
      ['GET', '/devices/x/group'],
      ['PUT', '/devices/x/group'],
      ['DELETE', '/devices/x/group/g'],
      ['GET', '/groups'],
      ['DELETE', '/groups/g'],
      ['GET', '/groups/g/devices'],
      ['PATCH', '/groups/g/devices'],
    ] as const) {
      const res = await t.call(method, `${V1}${path}`, { body: method === 'GET' ? undefined : [] })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="ManagementJWT"')
    }
    for (const path of [
      '/api/management/v2/inventory/statistics',
      '/api/management/v2/inventory/filters/attributes',
    ]) {
      expect((await t.call('GET', path)).status).toBe(401)
    }
  })
})

describe('devices', () => {
  test('GET a device: every scope, updated_ts at the top, no ETag without tags', async () => {
    const id = await fresh({ inventory: { device_type: 'rpi4' } })
    const res = await call('GET', `/devices/${id}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBeNull()
    expect(res.json.id).toBe(id)
    expect(res.json.updated_ts).toBe(t.clock.now().toISOString())
    expect(res.json.attributes).toContainEqual({ name: 'device_type', value: 'rpi4', scope: 'inventory' })
    expect(res.json.attributes).toContainEqual({ name: 'status', value: 'accepted', scope: 'identity' })
    expect(res.json.attributes.map((a: any) => a.scope)).toEqual([
      'identity',
      'identity',
      'inventory',
      'system',
      'system',
    ])
  })

  test('GET an unknown device is 404', async () => {
    expectError(await call('GET', '/devices/nope'), 404, 'device not found')
  })

  test('DELETE clears only the inventory scope; unknown devices are a 204 too', async () => {
    const id = await fresh({ inventory: { device_type: 'rpi4', kernel: 'x' } })
    await t.services.inventory.setGroup('', id, 'g1')
    const res = await call('DELETE', `/devices/${id}`)
    expect(res.status).toBe(204)
    const device = (await t.services.inventory.getDevice('', id)).device
    expect(scopeOf(device, 'inventory')).toEqual({})
    expect(scopeOf(device, 'identity').status).toBe('accepted')
    expect(scopeOf(device, 'system').group).toBe('g1')
    expect((await call('DELETE', '/devices/nope')).status).toBe(204)
    expectError(await call('GET', '/devices/nope'), 404)
    await expectCountsConsistent(t)
  })
})

describe('tags', () => {
  test('PUT replaces and PATCH merges, with a server timestamp and a new ETag each time', async () => {
    const id = await fresh()
    let res = await call('PUT', `/devices/${id}/tags`, {
      body: [
        { name: 'location', value: 'oslo', description: 'where' },
        { name: 'env', value: 'test' },
      ],
    })
    expect(res.status).toBe(200)
    expect(res.text).toBe('')
    const first = await call('GET', `/devices/${id}`)
    const etag = first.headers.get('etag')
    expect(etag).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.json.attributes).toContainEqual({
      name: 'location',
      value: 'oslo',
      scope: 'tags',
      description: 'where',
      timestamp: t.clock.now().toISOString(),
    })
    res = await call('PATCH', `/devices/${id}/tags`, { body: [{ name: 'owner', value: 'ops' }] })
    expect(res.status).toBe(200)
    const second = await call('GET', `/devices/${id}`)
    expect(second.headers.get('etag')).not.toBe(etag)
    expect(scopeOf(second.json, 'tags')).toEqual({ location: 'oslo', env: 'test', owner: 'ops' })
    await call('PUT', `/devices/${id}/tags`, { body: [{ name: 'owner', value: 'dev' }] })
    expect(scopeOf((await call('GET', `/devices/${id}`)).json, 'tags')).toEqual({ owner: 'dev' })
    expect(second.json.updated_ts).toBe(first.json.updated_ts)
  })

  test('If-Match must equal the current ETag (412 otherwise, nothing written)', async () => {
    const id = await fresh()
    await call('PUT', `/devices/${id}/tags`, { body: [{ name: 'a', value: '1' }] })
    const etag = (await call('GET', `/devices/${id}`)).headers.get('etag')!
    expectError(
      await call('PATCH', `/devices/${id}/tags`, {
        body: [{ name: 'b', value: '2' }],
        headers: { 'if-match': 'stale' },
      }),
      412,
      "ETag doesn't match",
    )
    expect(scopeOf((await call('GET', `/devices/${id}`)).json, 'tags')).toEqual({ a: '1' })
    const ok = await call('PATCH', `/devices/${id}/tags`, {
      body: [{ name: 'b', value: '2' }],
      headers: { 'if-match': etag },
    })
    expect(ok.status).toBe(200)
    expectError(
      await call('PUT', `/devices/${id}/tags`, {
        body: [{ name: 'c', value: '3' }],
        headers: { 'if-match': etag },
      }),
      412,
    )
  })

  test('an unknown device: a silent no-op without If-Match, 412 with it; it is never created', async () => {
    expect((await call('PUT', '/devices/ghost/tags', { body: [{ name: 'a', value: '1' }] })).status).toBe(200)
    expectError(await call('PATCH', '/devices/ghost/tags', { body: [], headers: { 'if-match': 'x' } }), 412)
    expectError(await call('GET', '/devices/ghost'), 404)
  })

  test('at most 20 tags; bad values are 400 and nothing is stored', async () => {
    const id = await fresh()
    const tags = (count: number, prefix = 't') =>
      Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, value: 'v' }))
    expectError(await call('PUT', `/devices/${id}/tags`, { body: tags(21) }), 400, 'at most 20')
    expect((await call('PUT', `/devices/${id}/tags`, { body: tags(20) })).status).toBe(200)
    expectError(await call('PATCH', `/devices/${id}/tags`, { body: tags(1, 'x') }), 400, 'at most 20')
    expect((await call('PATCH', `/devices/${id}/tags`, { body: tags(20) })).status).toBe(200)
    expectError(
      await call('PUT', `/devices/${id}/tags`, {
        body: [
          { name: 'a', value: 'x' },
          { name: 'b', value: null },
        ],
      }),
      400,
      'supported types',
    )
    expectError(await call('PUT', `/devices/${id}/tags`, { body: { name: 'a' } }), 400)
    expect(Object.keys(scopeOf((await call('GET', `/devices/${id}`)).json, 'tags'))).toHaveLength(20)
    await expectCountsConsistent(t)
  })
})

describe('a device group', () => {
  test('get (null when none), set, move, clear', async () => {
    const id = await fresh()
    expect((await call('GET', `/devices/${id}/group`)).json).toEqual({ group: null })
    expect((await call('PUT', `/devices/${id}/group`, { body: { group: 'alpha' } })).status).toBe(204)
    expect((await call('GET', `/devices/${id}/group`)).json).toEqual({ group: 'alpha' })
    expect((await call('PUT', `/devices/${id}/group`, { body: { group: 'beta' } })).status).toBe(204)
    expect((await call('GET', `/devices/${id}/group`)).json).toEqual({ group: 'beta' })
    expectError(await call('DELETE', `/devices/${id}/group/alpha`), 404)
    expect((await call('DELETE', `/devices/${id}/group/beta`)).status).toBe(204)
    expect((await call('GET', `/devices/${id}/group`)).json).toEqual({ group: null })
    expectError(await call('DELETE', `/devices/${id}/group/beta`), 404)
    await expectCountsConsistent(t)
  })

  test('group names: 1-256 of letters, digits, - and _', async () => {
    const id = await fresh()
    for (const group of ['', 'a b', 'a/b', 'é', 'x'.repeat(257), 5, null]) {
      expectError(await call('PUT', `/devices/${id}/group`, { body: { group } }), 400)
    }
    expectError(await call('PUT', `/devices/${id}/group`, { body: {} }), 400)
    expect(
      (await call('PUT', `/devices/${id}/group`, { body: { group: `A-z_0${'x'.repeat(251)}` } })).status,
    ).toBe(204)
  })

  test('unknown devices are 404', async () => {
    expectError(await call('GET', '/devices/nope/group'), 404)
    expectError(await call('PUT', '/devices/nope/group', { body: { group: 'g' } }), 404)
    expectError(await call('DELETE', '/devices/nope/group/g'), 404)
  })
})

describe('groups', () => {
  let a: string
  let b: string
  let c: string
  let pending: string
  beforeEach(async () => {
    for (const group of await t.services.inventory.listGroups(''))
      await t.services.inventory.deleteGroup('', group)
    a = await fresh()
    b = await fresh()
    c = await fresh()
    pending = await fresh({ status: 'pending' })
  })

  test('assign with PATCH: matched and updated counts, unknown ids skipped', async () => {
    let res = await call('PATCH', '/groups/blue/devices', { body: [a, b, 'ghost'] })
    expect(res.json).toEqual({ matched_count: 2, updated_count: 2 })
    res = await call('PATCH', '/groups/blue/devices', { body: [a, c] })
    expect(res.json).toEqual({ matched_count: 2, updated_count: 1 })
    res = await call('PATCH', '/groups/blue/devices', { body: ['ghost'] })
    expect(res.status).toBe(200)
    expect(res.json).toEqual({})
    expectError(await call('PATCH', '/groups/blue/devices', { body: [] }), 400)
    expectError(await call('PATCH', '/groups/bad name/devices', { body: [a] }), 400)
    expectError(await call('PATCH', '/groups/blue/devices', { body: [1] }), 400)
  })

  test('list groups, sorted, optionally by status', async () => {
    await call('PATCH', '/groups/blue/devices', { body: [a] })
    await call('PATCH', '/groups/amber/devices', { body: [b] })
    await call('PATCH', '/groups/zinc/devices', { body: [pending] })
    expect((await call('GET', '/groups')).json).toEqual(['amber', 'blue', 'zinc'])
    expect((await call('GET', '/groups?status=accepted')).json).toEqual(['amber', 'blue'])
    expect((await call('GET', '/groups?status=pending')).json).toEqual(['zinc'])
    expect((await call('GET', '/groups?status=rejected')).json).toEqual([])
    expect((await call('GET', '/groups?status=bogus')).json).toEqual([])
  })

  test('list a group: ids oldest first, paged with Link and X-Total-Count; 404 when empty', async () => {
    await call('PATCH', '/groups/blue/devices', { body: [c, a, b, pending] })
    let res = await call('GET', '/groups/blue/devices?per_page=3')
    expect(res.status).toBe(200)
    expect(res.json).toEqual([a, b, c])
    expect(res.headers.get('x-total-count')).toBe('4')
    expect(res.headers.get('link')).toBe(
      `<${V1}/groups/blue/devices?page=1&per_page=3>; rel="first", <${V1}/groups/blue/devices?page=2&per_page=3>; rel="next", <${V1}/groups/blue/devices?page=2&per_page=3>; rel="last"`,
    )
    res = await call('GET', '/groups/blue/devices?per_page=3&page=2')
    expect(res.json).toEqual([pending])
    expectError(await call('GET', '/groups/nothing/devices'), 404, 'group not found')
    expectError(await call('GET', '/groups/blue/devices?per_page=501'), 400)
    expectError(await call('GET', '/groups/blue/devices?page=0'), 400)
  })

  test('unassign with DELETE and a body of ids: only devices in that group', async () => {
    await call('PATCH', '/groups/blue/devices', { body: [a, b] })
    await call('PATCH', '/groups/red/devices', { body: [c] })
    const res = await call('DELETE', '/groups/blue/devices', { body: [a, c, 'ghost'] })
    expect(res.json).toEqual({ matched_count: 1, updated_count: 1 })
    expect(await t.services.inventory.getGroup('', a)).toBeNull()
    expect(await t.services.inventory.getGroup('', b)).toBe('blue')
    expect(await t.services.inventory.getGroup('', c)).toBe('red')
    expectError(await call('DELETE', '/groups/blue/devices', { body: [] }), 400)
    expectError(await call('DELETE', '/groups/blue!/devices', { body: [b] }), 400)
  })

  test('DELETE a group empties it', async () => {
    await call('PATCH', '/groups/blue/devices', { body: [a, b, pending] })
    await call('PATCH', '/groups/red/devices', { body: [c] })
    const res = await call('DELETE', '/groups/blue')
    expect(res.status).toBe(200)
    expect(res.json).toEqual({ matched_count: 3, updated_count: 3 })
    expect((await call('GET', '/groups')).json).toEqual(['red'])
    expect((await call('DELETE', '/groups/blue')).json).toEqual({})
    expectError(await call('DELETE', '/groups/no%20pe'), 400)
    await expectCountsConsistent(t)
  })
})

describe('v2 statistics and filter attributes', () => {
  test('statistics count accepted and pending devices', async () => {
    const before = (await t.call('GET', '/api/management/v2/inventory/statistics', { token })).json
    await fresh()
    await fresh({ status: 'pending' })
    await fresh({ status: 'rejected' })
    const res = await t.call('GET', '/api/management/v2/inventory/statistics', { token })
    expect(res.status).toBe(200)
    const { accepted, pending } = res.json.devices_by_status
    expect(accepted).toEqual({
      standard: before.devices_by_status.accepted.standard + 1,
      micro: 0,
      system: 0,
    })
    expect(pending).toEqual({ standard: before.devices_by_status.pending.standard + 1, micro: 0, system: 0 })
  })

  test('filter attributes: how many devices have each, most common first, then scope and name', async () => {
    const fleet = await createTestApp()
    const { token: other } = await loginAs(fleet)
    await addDevice(fleet, 'x1', { inventory: { device_type: 'a', zeta: 1 } })
    await addDevice(fleet, 'x2', { inventory: { device_type: 'b' } })
    await fleet.services.inventory.setTags('', 'x1', [{ name: 'name', value: 'one' }], 'replace')
    const res = await fleet.call('GET', '/api/management/v2/inventory/filters/attributes', { token: other })
    expect(res.status).toBe(200)
    expect(res.json).toEqual([
      { name: 'mac', scope: 'identity', count: 2 },
      { name: 'status', scope: 'identity', count: 2 },
      { name: 'device_type', scope: 'inventory', count: 2 },
      { name: 'created_ts', scope: 'system', count: 2 },
      { name: 'updated_ts', scope: 'system', count: 2 },
      { name: 'zeta', scope: 'inventory', count: 1 },
      { name: 'name', scope: 'tags', count: 1 },
    ])
    await fleet.close()
  })
})

test('the service health routes answer', async () => {
  expect((await t.call('GET', '/api/internal/v1/inventory/alive')).status).toBe(204)
  expect((await t.call('GET', '/api/internal/v1/inventory/health')).status).toBe(204)
})
