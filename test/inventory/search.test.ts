import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

let t: TestApp
let token: string

/** Devices in creation order (ties in sorts go by this order). */
const FIXTURE: {
  id: string
  status?: string
  inventory: Record<string, unknown>
  group?: string
  tags?: Record<string, unknown>
}[] = [
  {
    id: 'd1',
    inventory: { device_type: 'rpi4', mem: 1024, ver: '1.0', ifaces: ['eth0', 'wlan0'], nums: [3, 7] },
    group: 'blue',
    tags: { name: 'alpha-one' },
  },
  {
    id: 'd2',
    inventory: { device_type: 'rpi3', mem: 2048, ver: '2.0', ifaces: ['eth0'], nums: [5] },
    group: 'red',
  },
  { id: 'd3', status: 'pending', inventory: { device_type: 'rpi4', mem: 512, ver: '1.5', ifaces: [] } },
  {
    id: 'd4',
    status: 'rejected',
    inventory: { device_type: 'bbb', mem: '4096', ver: '10.0' },
    tags: { name: 'beta' },
  },
  { id: 'd5', inventory: { device_type: 'RPI4', ver: '0.9', nums: [1, 9] }, group: 'blue' },
  { id: 'd6', status: '', inventory: { device_type: 'rpi4', mem: 1024 } },
]
const ALL = FIXTURE.map((d) => d.id)

beforeAll(async () => {
  t = await createTestApp()
  token = (await loginAs(t)).token
  const inv = t.services.inventory
  for (const d of FIXTURE) {
    if (d.status !== '')
      await inv.upsertIdentity('', d.id, { mac: `00:11:22:33:44:0${d.id[1]}` }, d.status ?? 'accepted')
    await inv.updateInventory(
      '',
      d.id,
      Object.entries(d.inventory).map(([name, value]) => ({ name, value })),
      'replace',
    )
    if (d.group) await inv.setGroup('', d.id, d.group)
    if (d.tags)
      await inv.setTags(
        '',
        d.id,
        Object.entries(d.tags).map(([name, value]) => ({ name, value })),
        'replace',
      )
    t.clock.advance(1)
  }
  // Another tenant's devices never show up.
  await inv.upsertIdentity('other', 'x1', { mac: '00:11:22:33:44:01' }, 'accepted')
  await inv.updateInventory('other', 'x1', [{ name: 'device_type', value: 'rpi4' }], 'replace')
})
afterAll(() => t.close())

type Body = Record<string, unknown>
const search = (body: Body | null) =>
  t.call('POST', '/api/management/v2/inventory/filters/search', {
    token,
    headers: { 'x-men-requestid': 'rid-s' },
    ...(body === null ? {} : { body }),
  })
const f = (scope: string, attribute: string, type: string, value: unknown) => ({
  scope,
  attribute,
  type,
  value,
})
const ids = async (body: Body) => {
  const res = await search(body)
  expect(res.status).toBe(200)
  expect(res.headers.get('x-total-count')).toBe(String(res.json.length))
  return res.json.map((d: { id: string }) => d.id)
}
const matching = async (...filters: unknown[]) => (await ids({ filters })).sort()
const inv = (attribute: string, type: string, value: unknown) => f('inventory', attribute, type, value)

describe('v2 search filters', () => {
  test('no filters: every device of the tenant, oldest first', async () => {
    expect(await ids({})).toEqual(ALL)
    const res = await search(null)
    expect(res.json.map((d: { id: string }) => d.id)).toEqual(ALL)
  })

  test('$eq and $ne: types are strict, $ne includes devices lacking the attribute', async () => {
    expect(await matching(inv('device_type', '$eq', 'rpi4'))).toEqual(['d1', 'd3', 'd6'])
    expect(await matching(inv('mem', '$eq', 1024))).toEqual(['d1', 'd6'])
    expect(await matching(inv('mem', '$eq', '1024'))).toEqual([])
    expect(await matching(inv('mem', '$eq', '4096'))).toEqual(['d4'])
    expect(await matching(inv('mem', '$ne', 1024))).toEqual(['d2', 'd3', 'd4', 'd5'])
    expect(await matching(inv('nothing', '$ne', 'x'))).toEqual(ALL)
    expect(await matching(inv('nothing', '$eq', 'x'))).toEqual([])
    expect(await matching(inv('mem', '$eq', true))).toEqual([])
  })

  test('$in and $nin: any of the values; $nin includes devices lacking the attribute', async () => {
    expect(await matching(inv('device_type', '$in', ['rpi3', 'bbb', 'nope']))).toEqual(['d2', 'd4'])
    expect(await matching(inv('mem', '$in', [512, '4096']))).toEqual(['d3', 'd4'])
    expect(await matching(inv('mem', '$nin', [1024, 2048]))).toEqual(['d3', 'd4', 'd5'])
    expect(await matching(inv('mem', '$in', []))).toEqual([])
    expect(await matching(inv('mem', '$nin', []))).toEqual(ALL)
  })

  test('$gt $gte $lt $lte compare numbers with numbers and strings with strings', async () => {
    expect(await matching(inv('mem', '$gt', 1024))).toEqual(['d2'])
    expect(await matching(inv('mem', '$gte', 1024))).toEqual(['d1', 'd2', 'd6'])
    expect(await matching(inv('mem', '$lt', 1024))).toEqual(['d3'])
    expect(await matching(inv('mem', '$lte', 1024))).toEqual(['d1', 'd3', 'd6'])
    expect(await matching(inv('mem', '$gt', '1'))).toEqual(['d4'])
    expect(await matching(inv('ver', '$gte', '1.5'))).toEqual(['d2', 'd3', 'd4'])
    expect(await matching(inv('ver', '$lt', '1.0'))).toEqual(['d5'])
    expect(await matching(inv('ver', '$lt', 100))).toEqual([])
  })

  test('arrays match when any element does; a whole array must match exactly', async () => {
    expect(await matching(inv('ifaces', '$eq', 'wlan0'))).toEqual(['d1'])
    expect(await matching(inv('ifaces', '$eq', 'eth0'))).toEqual(['d1', 'd2'])
    expect(await matching(inv('ifaces', '$ne', 'wlan0'))).toEqual(['d2', 'd3', 'd4', 'd5', 'd6'])
    expect(await matching(inv('ifaces', '$in', ['wlan0', 'ppp0']))).toEqual(['d1'])
    expect(await matching(inv('ifaces', '$nin', ['eth0']))).toEqual(['d3', 'd4', 'd5', 'd6'])
    expect(await matching(inv('nums', '$gt', 6))).toEqual(['d1', 'd5'])
    expect(await matching(inv('nums', '$lt', 2))).toEqual(['d5'])
    expect(await matching(inv('ifaces', '$eq', ['eth0', 'wlan0']))).toEqual(['d1'])
    expect(await matching(inv('ifaces', '$eq', ['wlan0', 'eth0']))).toEqual([])
    expect(await matching(inv('ifaces', '$eq', []))).toEqual(['d3'])
    expect(await matching(inv('ifaces', '$ne', ['eth0']))).toEqual(['d1', 'd3', 'd4', 'd5', 'd6'])
  })

  test('$exists: an empty array exists; false matches devices lacking the attribute', async () => {
    expect(await matching(inv('ifaces', '$exists', true))).toEqual(['d1', 'd2', 'd3'])
    expect(await matching(inv('ifaces', '$exists', false))).toEqual(['d4', 'd5', 'd6'])
    expect(await matching(inv('nothing', '$exists', false))).toEqual(ALL)
    expect(await matching(inv('nothing', '$exists', true))).toEqual([])
  })

  test('$regex: anchored at the start, /pattern/flags, array elements; an invalid pattern matches nothing', async () => {
    expect(await matching(inv('device_type', '$regex', 'rpi'))).toEqual(['d1', 'd2', 'd3', 'd6'])
    expect(await matching(inv('device_type', '$regex', 'pi'))).toEqual([])
    expect(await matching(inv('device_type', '$regex', '/rpi4/i'))).toEqual(['d1', 'd3', 'd5', 'd6'])
    expect(await matching(inv('device_type', '$regex', 'rpi[34]$'))).toEqual(['d1', 'd2', 'd3', 'd6'])
    expect(await matching(inv('device_type', '$regex', 'bbb|rpi3'))).toEqual(['d2', 'd4'])
    expect(await matching(inv('device_type', '$regex', 'rpi4?$'))).toEqual(['d1', 'd3', 'd6'])
    expect(await matching(inv('device_type', '$regex', 'rpi3?$'))).toEqual(['d2'])
    expect(await matching(inv('ver', '$regex', '1\\.'))).toEqual(['d1', 'd3'])
    expect(await matching(inv('ifaces', '$regex', 'wl'))).toEqual(['d1'])
    expect(await matching(inv('device_type', '$regex', '['))).toEqual([])
    expect(await matching(inv('mem', '$regex', '10'))).toEqual([])
  })

  test('identity/status filters select by auth status; devices without one lack the attribute', async () => {
    const status = (type: string, value: unknown) => f('identity', 'status', type, value)
    expect(await matching(status('$eq', 'pending'))).toEqual(['d3'])
    expect(await matching(status('$ne', 'accepted'))).toEqual(['d3', 'd4', 'd6'])
    expect(await matching(status('$in', ['pending', 'rejected']))).toEqual(['d3', 'd4'])
    expect(await matching(status('$nin', ['accepted']))).toEqual(['d3', 'd4', 'd6'])
    expect(await matching(status('$exists', false))).toEqual(['d6'])
    expect(await matching(status('$regex', 'acc'))).toEqual(['d1', 'd2', 'd5'])
    expect(await matching(status('$eq', 'accepted'), inv('device_type', '$eq', 'rpi4'))).toEqual(['d1'])
    expect(await matching(status('$eq', 'accepted'), status('$eq', 'pending'))).toEqual([])
  })

  test('identity/id is the device id; device_ids limits the search', async () => {
    expect(await matching(f('identity', 'id', '$eq', 'd2'))).toEqual(['d2'])
    expect(await matching(f('identity', 'id', '$in', ['d2', 'd4', 'x1']))).toEqual(['d2', 'd4'])
    expect(await matching(f('identity', 'id', '$ne', 'd2'))).toEqual(['d1', 'd3', 'd4', 'd5', 'd6'])
    expect((await ids({ device_ids: ['d5', 'd1', 'nope'] })).sort()).toEqual(['d1', 'd5'])
    expect(
      (await ids({ device_ids: ['d5', 'd1'], filters: [inv('device_type', '$eq', 'rpi4')] })).sort(),
    ).toEqual(['d1'])
  })

  test('system and tags scopes: group, times (any ISO form), the name tag', async () => {
    expect(await matching(f('system', 'group', '$eq', 'blue'))).toEqual(['d1', 'd5'])
    expect(await matching(f('system', 'group', '$exists', false))).toEqual(['d3', 'd4', 'd6'])
    const third = (await t.services.inventory.getDevice('', 'd3')).device.updated_ts!
    const noMillis = `${third.slice(0, 19)}Z`
    expect(await matching(f('system', 'updated_ts', '$gte', noMillis))).toEqual(['d3', 'd4', 'd5', 'd6'])
    expect(await matching(f('system', 'created_ts', '$lt', noMillis))).toEqual(['d1', 'd2'])
    expect(await matching(f('tags', 'name', '$eq', 'beta'))).toEqual(['d4'])
  })

  test('filters combine with AND', async () => {
    expect(
      await matching(
        inv('device_type', '$eq', 'rpi4'),
        inv('mem', '$eq', 1024),
        f('system', 'group', '$exists', true),
      ),
    ).toEqual(['d1'])
  })
})

describe('v2 search sort, projection and paging', () => {
  const sort = (...keys: [string, string, string][]) => ({
    sort: keys.map(([scope, attribute, order]) => ({ scope, attribute, order })),
  })

  test('ascending: missing first, then numbers, then strings; ties oldest first', async () => {
    expect(await ids(sort(['inventory', 'mem', 'asc']))).toEqual(['d5', 'd3', 'd1', 'd6', 'd2', 'd4'])
  })

  test('descending: the reverse, missing last, ties newest first', async () => {
    expect(await ids(sort(['inventory', 'mem', 'desc']))).toEqual(['d4', 'd2', 'd6', 'd1', 'd3', 'd5'])
  })

  test('arrays sort by their smallest element ascending and largest descending', async () => {
    expect(
      await ids({ ...sort(['inventory', 'nums', 'asc']), filters: [inv('nums', '$exists', true)] }),
    ).toEqual(['d5', 'd1', 'd2'])
    expect(
      await ids({ ...sort(['inventory', 'nums', 'desc']), filters: [inv('nums', '$exists', true)] }),
    ).toEqual(['d5', 'd1', 'd2'])
  })

  test('several keys: later keys order the ties of earlier ones', async () => {
    expect(await ids(sort(['inventory', 'device_type', 'asc'], ['inventory', 'mem', 'desc']))).toEqual([
      'd5',
      'd4',
      'd2',
      'd1',
      'd6',
      'd3',
    ])
    expect(await ids(sort(['system', 'group', 'desc'], ['identity', 'id', 'desc']))).toEqual([
      'd2',
      'd5',
      'd1',
      'd6',
      'd4',
      'd3',
    ])
  })

  test('sorting by an attribute no device has keeps age order', async () => {
    expect(await ids(sort(['inventory', 'nothing', 'asc']))).toEqual(ALL)
  })

  test('paging: page and per_page, X-Total-Count is the full count', async () => {
    const res = await search({ ...sort(['inventory', 'mem', 'asc']), page: 2, per_page: 4 })
    expect(res.json.map((d: { id: string }) => d.id)).toEqual(['d2', 'd4'])
    expect(res.headers.get('x-total-count')).toBe('6')
    expect(res.headers.get('link')).toBeNull()
    const past = await search({ page: 5, per_page: 4 })
    expect(past.json).toEqual([])
    expect(past.headers.get('x-total-count')).toBe('6')
    const defaults = await search({ page: 0, per_page: 0 })
    expect(defaults.json).toHaveLength(6)
  })

  test('attributes: only those asked for, and system/updated_ts', async () => {
    const res = await search({
      filters: [f('identity', 'id', '$eq', 'd1')],
      attributes: [
        { scope: 'inventory', attribute: 'device_type' },
        { scope: 'tags', attribute: 'name' },
        { scope: 'inventory', attribute: 'nothing' },
      ],
    })
    const [device] = res.json
    expect(device.id).toBe('d1')
    expect(device.identities).toBeUndefined()
    expect(device.attributes.map((a: { scope: string; name: string }) => `${a.scope}/${a.name}`)).toEqual([
      'inventory/device_type',
      'system/updated_ts',
      'tags/name',
    ])
    expect(device.updated_ts).toBe(device.attributes[1].value)
  })

  test('a full device carries its identities: identity values and the name tag', async () => {
    const [device] = (await search({ filters: [f('identity', 'id', '$eq', 'd1')] })).json
    expect(device.identities).toEqual(['00:11:22:33:44:01', 'accepted', 'alpha-one'])
  })
})

describe('v2 search validation', () => {
  test.each([
    ['an unknown scope', { filters: [f('hardware', 'a', '$eq', 'x')] }, 'scope'],
    ['no attribute', { filters: [f('inventory', '', '$eq', 'x')] }, 'attribute'],
    ['an unknown operator', { filters: [f('inventory', 'a', '$like', 'x')] }, 'operator'],
    ['$ltne', { filters: [f('inventory', 'a', '$ltne', 'x')] }, 'operator'],
    ['no value', { filters: [{ scope: 'inventory', attribute: 'a', type: '$eq' }] }, 'value'],
    ['$in without an array', { filters: [f('inventory', 'a', '$in', 'x')] }, '$in needs an array'],
    ['$regex without a string', { filters: [f('inventory', 'a', '$regex', 5)] }, '$regex needs a string'],
    ['$gt with an array', { filters: [f('inventory', 'a', '$gt', [1])] }, '$gt needs'],
    ['a bad sort order', { sort: [{ scope: 'inventory', attribute: 'a', order: 'up' }] }, 'order'],
    ['a sort without scope', { sort: [{ attribute: 'a', order: 'asc' }] }, 'scope'],
    ['a projection without attribute', { attributes: [{ scope: 'inventory' }] }, 'attribute'],
    ['per_page above 500', { per_page: 501 }, 'per_page'],
    ['a fractional page', { page: 1.5 }, 'page'],
    ['text that is not a string', { text: ['rpi'] }, 'text'],
    ['device_ids that are not strings', { device_ids: [1] }, 'device_ids'],
  ])('%s is a 400', async (_, body, message) => {
    const res = await search(body)
    expect(res.status).toBe(400)
    expect(res.json.request_id).toBe('rid-s')
    expect(res.json.error).toContain(message)
  })

  test('a body that is not JSON is a 400', async () => {
    const res = await t.call('POST', '/api/management/v2/inventory/filters/search', {
      token,
      raw: '{"filters":',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(400)
  })
})

describe('v1 devices list', () => {
  const list = (query: string) =>
    t.call('GET', `/api/management/v1/inventory/devices${query}`, {
      token,
      headers: { 'x-men-requestid': 'rid-l' },
    })
  const listIds = async (query: string) => {
    const res = await list(query)
    expect(res.status).toBe(200)
    return res.json.map((d: { id: string }) => d.id)
  }

  test('filters: [scope/]name=[eq:]value, the scope defaulting to inventory; ANDed', async () => {
    expect(await listIds('?device_type=rpi4')).toEqual(['d1', 'd3', 'd6'])
    expect(await listIds('?inventory/device_type=eq:rpi4&system/group=blue')).toEqual(['d1'])
    expect(await listIds('?identity/status=pending')).toEqual(['d3'])
    expect(await listIds('?tags/name=beta')).toEqual(['d4'])
    expect(await listIds('?identity/mac=00:11:22:33:44:02')).toEqual(['d2'])
    expect(await listIds('?hardware/device_type=rpi4')).toEqual([])
    expect(await listIds('?/id=d1')).toEqual([])
  })

  test('a value that reads as a number matches the string or the number', async () => {
    expect(await listIds('?mem=1024')).toEqual(['d1', 'd6'])
    expect(await listIds('?mem=4096')).toEqual(['d4'])
    expect(await listIds('?ver=1.0')).toEqual(['d1'])
  })

  test('a value that reads as a time matches the stored time', async () => {
    const created = (await t.services.inventory.getDevice('', 'd2')).device.attributes.find(
      (a) => a.name === 'created_ts',
    )!
    const seconds = `${String(created.value).slice(0, 19)}Z`
    const expected = String(created.value).endsWith('.000Z') ? ['d2'] : []
    expect(await listIds(`?system/created_ts=${seconds}`)).toEqual(expected)
  })

  test('has_group and group', async () => {
    expect(await listIds('?has_group=true')).toEqual(['d1', 'd2', 'd5'])
    expect(await listIds('?has_group=false')).toEqual(['d3', 'd4', 'd6'])
    expect(await listIds('?has_group=1&group=blue')).toEqual(['d1', 'd5'])
    expect(await listIds('?group=red')).toEqual(['d2'])
    const res = await list('?has_group=maybe')
    expect(res.status).toBe(400)
    expect(res.json.request_id).toBe('rid-l')
  })

  test('sort: one attribute, descending unless :asc; other orders are 400', async () => {
    expect(await listIds('?sort=mem')).toEqual(['d4', 'd2', 'd6', 'd1', 'd3', 'd5'])
    expect(await listIds('?sort=inventory/mem:asc')).toEqual(['d5', 'd3', 'd1', 'd6', 'd2', 'd4'])
    expect(await listIds('?sort=mem:desc&device_type=rpi4')).toEqual(['d6', 'd1', 'd3'])
    const res = await list('?sort=mem:up')
    expect(res.status).toBe(400)
    expect(res.json).toEqual({ error: 'invalid sort order', request_id: 'rid-l' })
  })

  test('paging: Link and X-Total-Count, limits as everywhere', async () => {
    const res = await list('?device_type=rpi4&per_page=2&page=2&sort=mem:asc')
    expect(res.json.map((d: { id: string }) => d.id)).toEqual(['d6'])
    expect(res.headers.get('x-total-count')).toBe('3')
    const path = '/api/management/v1/inventory/devices'
    expect(res.headers.get('link')).toBe(
      `<${path}?device_type=rpi4&page=1&per_page=2&sort=mem%3Aasc>; rel="first", <${path}?device_type=rpi4&page=1&per_page=2&sort=mem%3Aasc>; rel="prev", <${path}?device_type=rpi4&page=2&per_page=2&sort=mem%3Aasc>; rel="last"`,
    )
    expect((await list('?per_page=501')).status).toBe(400)
    expect((await list('?page=x')).status).toBe(400)
  })

  test('a repeated parameter uses its first value', async () => {
    expect(await listIds('?device_type=rpi3&device_type=rpi4')).toEqual(['d2'])
  })
})

describe('v2alpha1 identity search', () => {
  const identities = (body: Body) =>
    t.call('POST', '/api/management/v2alpha1/inventory/identities/search', { token, body })

  test('prefix of an identity attribute, of the device id, or of the name tag', async () => {
    let res = await identities({ scope: 'identity', name: 'mac', value_prefix: '00:11:22:33:44:0' })
    expect(res.status).toBe(200)
    expect(res.json.map((d: { id: string }) => d.id)).toEqual(['d1', 'd2', 'd3', 'd4', 'd5'])
    expect(res.headers.get('x-total-count')).toBe('5')
    expect(res.headers.get('link')).toContain('rel="first"')
    res = await identities({ scope: 'identity', name: 'id', value_prefix: 'd' })
    expect(res.json).toHaveLength(6)
    res = await identities({
      scope: 'tags',
      name: 'name',
      value_prefix: 'alpha',
      attributes: [{ scope: 'tags', attribute: 'name' }],
    })
    expect(res.json).toEqual([
      {
        id: 'd1',
        updated_ts: expect.any(String),
        attributes: [
          { name: 'updated_ts', scope: 'system', value: expect.any(String) },
          { name: 'name', scope: 'tags', value: 'alpha-one', timestamp: expect.any(String) },
        ],
      },
    ])
    res = await identities({
      scope: 'identity',
      name: 'mac',
      value_prefix: '00:11:22:33:44:0',
      page: 2,
      per_page: 2,
    })
    expect(res.json.map((d: { id: string }) => d.id)).toEqual(['d3', 'd4'])
  })

  test('other scopes, other tags and a missing prefix are 400', async () => {
    for (const body of [
      { scope: 'inventory', name: 'device_type', value_prefix: 'r' },
      { scope: 'tags', name: 'owner', value_prefix: 'r' },
      { scope: 'identity', name: 'mac' },
    ]) {
      expect((await identities(body)).status).toBe(400)
    }
  })
})
