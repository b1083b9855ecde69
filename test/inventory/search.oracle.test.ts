import { afterAll, beforeAll, expect, test } from 'bun:test'
import { sqliteOf } from '../../src/deps.ts'
import type { Filter, SearchRequest, SortKey } from '../../src/services/inventory/filters.ts'
import { createDeviceSearch } from '../../src/services/inventory/search.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'

/*
 * Random devices and random searches, answered by the real search (every page strategy: walking
 * a sort key, walking by age, sorting all matches, with and without a budget that runs out) and by
 * a plain JavaScript reading of Mongo's semantics. They must agree on the page and the total.
 */

type Value = string | number | (string | number)[]
type Fixture = { id: string; seq: number; status: string; attrs: Map<string, Value> }

let seed = 7
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!

const TYPES = ['rpi4', 'rpi3', 'bbb', 'nuc', 'x86']
const DEVICES = 2500
const fixtures: Fixture[] = []
let t: TestApp

function makeDevice(i: number): Fixture {
  const attrs = new Map<string, Value>()
  const type = pick(TYPES)
  if (random() < 0.9) attrs.set('inventory/device_type', type)
  // Sorting by host walks the device types in order: matches of one type come late.
  attrs.set('inventory/host', `${type}-${String(i).padStart(5, '0')}`)
  const mem = random()
  if (mem < 0.75) attrs.set('inventory/mem', pick([256, 512, 1024, 2048, 1.5]))
  else if (mem < 0.85) attrs.set('inventory/mem', pick(['1024', 'big']))
  if (random() < 0.8) attrs.set('inventory/ver', pick(['1.0', '1.10', '2.0', '10.0', 'beta']))
  const ifaces = random()
  if (ifaces < 0.5)
    attrs.set(
      'inventory/ifaces',
      ['eth0', 'wlan0', 'usb0'].filter(() => random() < 0.5),
    )
  else if (ifaces < 0.6) attrs.set('inventory/ifaces', ['eth0', 'eth0'])
  if (random() < 0.5) attrs.set('inventory/nums', [pick([1, 5, 9]), pick([2, 5, 8])])
  if (random() < 0.6) attrs.set('system/group', pick(['blue', 'red', 'green']))
  const status = pick(['accepted', 'accepted', 'accepted', 'accepted', 'pending', 'rejected', ''])
  if (status) attrs.set('identity/status', status)
  return { id: `dev-${String(i).padStart(5, '0')}`, seq: i + 1, status, attrs }
}

beforeAll(async () => {
  t = await createTestApp()
  const inv = t.services.inventory
  for (let i = 0; i < DEVICES; i++) {
    const d = makeDevice(i)
    fixtures.push(d)
    if (d.status) inv.upsertIdentity('', d.id, {}, d.status)
    const body = [...d.attrs]
      .filter(([key]) => key.startsWith('inventory/'))
      .map(([key, value]) => ({ name: key.slice('inventory/'.length), value }))
    inv.updateInventory('', d.id, body, 'replace')
    const group = d.attrs.get('system/group')
    if (typeof group === 'string') inv.setGroup('', d.id, group)
  }
})
afterAll(() => t.close())

// --- Mongo's semantics, plainly ---

const elements = (v: Value | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v])
const same = (a: unknown, b: unknown) => typeof a === typeof b && a === b
const attributeOf = (d: Fixture, scope: string, name: string): Value | undefined =>
  scope === 'identity' && name === 'id' ? d.id : d.attrs.get(`${scope}/${name}`)

function matches(d: Fixture, f: Filter): boolean {
  const v = attributeOf(d, f.scope, f.name)
  const each = elements(v)
  const cmp = (x: unknown, op: string) => {
    if (typeof x !== typeof f.value) return false
    const a = x as string | number
    const b = f.value as string | number
    return op === '$gt' ? a > b : op === '$gte' ? a >= b : op === '$lt' ? a < b : a <= b
  }
  switch (f.op) {
    case '$eq':
      return Array.isArray(f.value)
        ? Array.isArray(v) &&
            v.length === f.value.length &&
            v.every((x, i) => same(x, (f.value as unknown[])[i]))
        : each.some((x) => same(x, f.value))
    case '$ne':
      return !matches(d, { ...f, op: '$eq' })
    case '$in':
      return each.some((x) => (f.value as unknown[]).some((y) => same(x, y)))
    case '$nin':
      return !matches(d, { ...f, op: '$in' })
    case '$exists':
      return (v !== undefined) === f.value
    case '$regex':
      return each.some((x) => typeof x === 'string' && new RegExp(`^(?:${f.value})`).test(x))
    default:
      return each.some((x) => cmp(x, f.op))
  }
}

function sortValue(d: Fixture, key: SortKey): string | number | null {
  const each = elements(attributeOf(d, key.scope, key.name))
  if (each.length === 0) return null
  return each.reduce((best, x) => ((key.desc ? x > best : x < best) ? x : best))
}

const rank = (v: unknown) => (v === null ? 0 : typeof v === 'number' ? 1 : 2)
function compare(a: string | number | null, b: string | number | null): number {
  if (rank(a) !== rank(b)) return rank(a) - rank(b)
  if (a === null || b === null) return 0
  return a < b ? -1 : a > b ? 1 : 0
}

function oracle(request: SearchRequest): { ids: string[]; total: number } {
  const found = fixtures.filter((d) => request.filters.every((f) => matches(d, f)))
  const firstDesc = request.sort[0]?.desc ?? false
  found.sort((a, b) => {
    for (const key of request.sort) {
      const c = compare(sortValue(a, key), sortValue(b, key))
      if (c !== 0) return key.desc ? -c : c
    }
    return firstDesc ? b.seq - a.seq : a.seq - b.seq
  })
  const offset = (request.page - 1) * request.perPage
  return { ids: found.slice(offset, offset + request.perPage).map((d) => d.id), total: found.length }
}

// --- random searches ---

const FILTERS: (() => Filter)[] = [
  () => ({ scope: 'identity', name: 'status', op: '$eq', value: pick(['accepted', 'pending']) }),
  () => ({ scope: 'identity', name: 'status', op: '$ne', value: 'accepted' }),
  () => ({ scope: 'identity', name: 'status', op: '$exists', value: pick([true, false]) }),
  () => ({ scope: 'identity', name: 'status', op: '$in', value: ['accepted', 'rejected'] }),
  () => ({ scope: 'inventory', name: 'device_type', op: pick(['$eq', '$ne']), value: pick(TYPES) }),
  () => ({
    scope: 'inventory',
    name: 'device_type',
    op: pick(['$in', '$nin']),
    value: [pick(TYPES), pick(TYPES)],
  }),
  () => ({ scope: 'inventory', name: 'device_type', op: '$exists', value: pick([true, false]) }),
  () => ({
    scope: 'inventory',
    name: 'mem',
    op: pick(['$gt', '$gte', '$lt', '$lte']),
    value: pick([512, 1024, '1024', 'a']),
  }),
  () => ({ scope: 'inventory', name: 'mem', op: pick(['$eq', '$ne']), value: pick([1024, '1024', 1.5]) }),
  () => ({
    scope: 'inventory',
    name: 'ver',
    op: pick(['$gt', '$lte', '$regex']),
    value: pick(['1.1', '1', 'b']),
  }),
  () => ({ scope: 'inventory', name: 'ifaces', op: pick(['$eq', '$ne']), value: pick(['eth0', 'wlan0']) }),
  () => ({
    scope: 'inventory',
    name: 'ifaces',
    op: pick(['$in', '$nin']),
    value: [pick(['eth0', 'wlan0', 'usb0'])],
  }),
  () => ({
    scope: 'inventory',
    name: 'ifaces',
    op: '$eq',
    value: pick([['eth0', 'eth0'], [], ['eth0', 'wlan0']]),
  }),
  () => ({ scope: 'inventory', name: 'ifaces', op: '$exists', value: pick([true, false]) }),
  () => ({ scope: 'inventory', name: 'nums', op: pick(['$gt', '$lt', '$eq']), value: pick([2, 5, 8]) }),
  () => ({ scope: 'inventory', name: 'host', op: '$regex', value: pick(['rpi', 'x86-0001', 'n']) }),
  () => ({ scope: 'system', name: 'group', op: pick(['$eq', '$ne']), value: pick(['blue', 'red']) }),
  () => ({ scope: 'system', name: 'group', op: '$exists', value: pick([true, false]) }),
  () => ({
    scope: 'identity',
    name: 'id',
    op: '$in',
    value: fixtures
      .slice(0, 400)
      .filter(() => random() < 0.3)
      .map((d) => d.id),
  }),
]
const SORTS: (() => SortKey)[] = [
  () => ({ scope: 'inventory', name: 'host', desc: random() < 0.5 }),
  () => ({ scope: 'inventory', name: 'mem', desc: random() < 0.5 }),
  () => ({ scope: 'inventory', name: 'ver', desc: random() < 0.5 }),
  () => ({ scope: 'inventory', name: 'nums', desc: random() < 0.5 }),
  () => ({ scope: 'inventory', name: 'device_type', desc: random() < 0.5 }),
  () => ({ scope: 'system', name: 'group', desc: random() < 0.5 }),
  () => ({ scope: 'identity', name: 'id', desc: random() < 0.5 }),
]

function randomRequest(): SearchRequest {
  const filters = Array.from({ length: Math.floor(random() * 4) }, () => pick(FILTERS)())
  const sort = Array.from({ length: Math.floor(random() * 3) }, () => pick(SORTS)())
  return { filters, sort, page: pick([1, 1, 1, 2, 7]), perPage: pick([5, 20, 100]) }
}

// Hundreds of searches over a few thousand devices: more than the default five seconds on a busy machine.
test('every search agrees with a plain reading of Mongo semantics, whichever plan runs', {
  timeout: 60_000,
}, () => {
  const search = createDeviceSearch(sqliteOf(t.deps))
  const sqlite = sqliteOf(t.deps).$client
  const statements: string[] = []
  const query = sqlite.query.bind(sqlite)
  sqlite.query = ((text: string) => {
    statements.push(text)
    return query(text)
  }) as typeof sqlite.query
  try {
    for (let i = 0; i < 400; i++) {
      const request = randomRequest()
      const expected = oracle(request)
      const { devices, total } = search.search('', request)
      const got = { ids: devices.map((d) => d.id), total }
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(
          `search ${i} differs: ${JSON.stringify(request)}\n got ${JSON.stringify(got)}\nwant ${JSON.stringify(expected)}`,
        )
      }
    }
  } finally {
    sqlite.query = query
  }
  const ran = (pattern: RegExp) => statements.filter((s) => pattern.test(s)).length
  // Each strategy ran: walking a sort key (probing, and with lists after a budget ran out),
  // walking by age, sorting with the count, sorting alone.
  expect(ran(/UNION ALL|"w"\.attr/)).toBeGreaterThan(10)
  expect(ran(/"w"\.attr[\s\S]*\+dev IN/)).toBeGreaterThan(0)
  expect(ran(/NOT INDEXED/)).toBeGreaterThan(10)
  expect(ran(/count\(\*\) OVER/)).toBeGreaterThan(10)
  expect(ran(/^SELECT dev FROM \(SELECT (DISTINCT )?"d"\.device.*ORDER BY/s)).toBeGreaterThan(0)
})
