import { afterAll, beforeAll, describe, test } from 'bun:test'
import type { Filter, SearchRequest, SortKey } from '../../src/services/inventory/filters.ts'
import { statusCode } from '../../src/services/inventory/model.ts'
import type { SearchResult } from '../../src/services/inventory/store.search.ts'
import type { InventoryStore } from '../../src/services/inventory/store.ts'

/*
 * Random devices and random searches, answered by an engine's search and by a plain JavaScript
 * reading of Mongo's semantics. They must agree on the page and the total. Each engine's test
 * file runs this with its own stores; SQLite's also checks that every page strategy of its
 * planner ran (search.oracle.test.ts).
 */

type Value = string | number | (string | number)[]
type Fixture = { id: string; seq: number; status: string; attrs: Map<string, Value> }

let seed = 7
/** Starts the random sequence over, so every engine's run sees the same devices and searches. */
const restart = () => {
  seed = 7
}
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!

const TYPES = ['rpi4', 'rpi3', 'bbb', 'nuc', 'x86']
/** A check-in time `hours` after the first of January (kept in a table of its own by the stores). */
const checkInAt = (hours: number) => new Date(Date.UTC(2026, 0, 1) + hours * 3_600_000).toISOString()
let fixtures: Fixture[] = []

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
  // Drawn from the index, not the random sequence, so the other attributes stay as they were.
  if (i % 10 < 7) attrs.set('system/check_in_time', checkInAt((i * 37) % 60))
  return { id: `dev-${String(i).padStart(5, '0')}`, seq: i + 1, status, attrs }
}

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
    scope: 'system',
    name: 'check_in_time',
    op: pick(['$gt', '$gte', '$lt', '$lte', '$eq', '$ne']),
    value: pick([checkInAt(10), checkInAt(30), checkInAt(59), 5]),
  }),
  () => ({ scope: 'system', name: 'check_in_time', op: '$exists', value: pick([true, false]) }),
  () => ({
    scope: 'system',
    name: 'check_in_time',
    op: pick(['$in', '$nin']),
    value: [checkInAt(pick([3, 20, 40])), checkInAt(7)],
  }),
  () => ({
    scope: 'system',
    name: 'check_in_time',
    op: '$regex',
    value: pick(['2026-01-02', '2026-01-01T1']),
  }),
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
  () => ({ scope: 'system', name: 'check_in_time', desc: random() < 0.5 }),
]

function randomRequest(): SearchRequest {
  const filters = Array.from({ length: Math.floor(random() * 4) }, () => pick(FILTERS)())
  const sort = Array.from({ length: Math.floor(random() * 3) }, () => pick(SORTS)())
  return { filters, sort, page: pick([1, 1, 1, 2, 7]), perPage: pick([5, 20, 100]) }
}

export type OracleTarget = {
  store: InventoryStore
  search(tenantId: string, request: SearchRequest): Promise<SearchResult>
  close(): Promise<void>
}

/**
 * Writes the devices through the engine's inventory store: created one after the other (their
 * age orders ties), then their attributes a few devices at a time.
 */
async function seedDevices(store: InventoryStore, devices: number): Promise<void> {
  const now = new Date(Date.UTC(2026, 0, 1))
  for (let i = 0; i < devices; i++) {
    const d = makeDevice(i)
    fixtures.push(d)
    const status = d.status ? [{ name: 'status', value: d.status }] : []
    await store.writeIdentity('', d.id, status, statusCode(d.status)!, now)
  }
  const fill = async (d: Fixture) => {
    const body = [...d.attrs]
      .filter(([key]) => key.startsWith('inventory/'))
      .map(([key, value]) => ({ name: key.slice('inventory/'.length), value: value as string }))
    await store.updateInventory('', d.id, body, { replace: true, now, max: 100 })
    const group = d.attrs.get('system/group')
    if (typeof group === 'string') await store.setGroup('', d.id, group)
  }
  for (let i = 0; i < fixtures.length; i += 8) await Promise.all(fixtures.slice(i, i + 8).map(fill))
  const checkIns = fixtures.flatMap((d) => {
    const at = d.attrs.get('system/check_in_time')
    return typeof at === 'string' ? [{ tenantId: '', deviceId: d.id, at: new Date(at) }] : []
  })
  for (let i = 0; i < checkIns.length; i += 500) await store.writeCheckIns(checkIns.slice(i, i + 500))
}

/** `searches` random searches over `devices` random devices must agree with the plain reading. */
export function searchOracle(
  name: string,
  open: () => Promise<OracleTarget>,
  sizes: { devices: number; searches: number },
): void {
  describe(`${name} search`, () => {
    let target: OracleTarget
    beforeAll(async () => {
      restart()
      fixtures = []
      target = await open()
      await seedDevices(target.store, sizes.devices)
    }, 600_000)
    afterAll(() => target.close())

    // Hundreds of searches over a few thousand devices: more than the default five seconds on a busy machine.
    test('every search agrees with a plain reading of Mongo semantics', { timeout: 120_000 }, async () => {
      for (let i = 0; i < sizes.searches; i++) {
        const request = randomRequest()
        const expected = oracle(request)
        const { devices, total } = await target.search('', request)
        const got = { ids: devices.map((d) => d.id), total }
        if (JSON.stringify(got) !== JSON.stringify(expected)) {
          throw new Error(
            `search ${i} differs: ${JSON.stringify(request)}\n got ${JSON.stringify(got)}\nwant ${JSON.stringify(expected)}`,
          )
        }
      }
    })
  })
}
