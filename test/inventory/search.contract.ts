import { beforeAll, expect, test } from 'bun:test'
import type { Filter, SearchRequest } from '../../src/services/inventory/filters.ts'
import { STATUS_CODES } from '../../src/services/inventory/model.ts'
import type { InventorySearchStore } from '../../src/services/inventory/store.search.ts'
import type { InventoryStore } from '../../src/services/inventory/store.ts'
import type { AttributeInput } from '../../src/services/inventory/values.ts'

const now = new Date(Date.UTC(2026, 0, 1, 12))
const T = 'search'

/** Devices of tenant `search`, oldest first: id, status, inventory. */
const DEVICES: [string, number, AttributeInput[]][] = [
  [
    's1',
    STATUS_CODES.accepted,
    [
      { name: 'mem', value: 512 },
      { name: 'host', value: 'Kitchen-Devices' },
    ],
  ],
  [
    's2',
    STATUS_CODES.accepted,
    [
      { name: 'mem', value: '1024' },
      { name: 'ifaces', value: ['eth0', 'wlan0'] },
    ],
  ],
  [
    's3',
    STATUS_CODES.pending,
    [
      { name: 'mem', value: 2048 },
      { name: 'host', value: 'garage café' },
    ],
  ],
  [
    's4',
    STATUS_CODES.accepted,
    [
      { name: 'ifaces', value: [] },
      { name: 'host', value: 'Zebra' },
    ],
  ],
  [
    's5',
    STATUS_CODES.accepted,
    [
      { name: 'mem', value: 'big' },
      { name: 'ifaces', value: ['wlan0'] },
    ],
  ],
]

/**
 * What every engine's search store promises, over devices written through its inventory store:
 * Mongo's semantics per filter, SQLite's value order, paging with the total, the attributes
 * shown, free text. (search.oracle.ts compares many random searches with a plain reading too.)
 */
export function searchStoreContract(stores: () => { store: InventoryStore; search: InventorySearchStore }) {
  beforeAll(async () => {
    const { store } = stores()
    for (const [id, status, inventory] of DEVICES) {
      await store.writeIdentity(T, id, [{ name: 'mac', value: `mac-${id}` }], status, now)
      await store.updateInventory(T, id, inventory, { replace: true, now, max: 100 })
    }
    await store.setGroup(T, 's2', 'blue')
    await store.writeIdentity('elsewhere', 's9', [], STATUS_CODES.accepted, now)
    await store.updateInventory('elsewhere', 's9', [{ name: 'mem', value: 512 }], {
      replace: true,
      now,
      max: 100,
    })
    while ((await store.flushText(1000)) > 0) {}
  })

  async function ids(request: Partial<SearchRequest>, tenantId = T) {
    const page = await stores().search.search(tenantId, {
      filters: [],
      sort: [],
      page: 1,
      perPage: 20,
      ...request,
    })
    return { ids: page.devices.map((device) => device.id), total: page.total }
  }
  const only = async (...filters: Filter[]) => (await ids({ filters })).ids
  const inv = (name: string, op: Filter['op'], value: unknown): Filter => ({
    scope: 'inventory',
    name,
    op,
    value,
  })

  test('search: a number never equals a string; ranges stay within their type', async () => {
    expect(await only(inv('mem', '$eq', 512))).toEqual(['s1'])
    expect(await only(inv('mem', '$eq', '1024'))).toEqual(['s2'])
    expect(await only(inv('mem', '$in', [1024, 'big', 2048]))).toEqual(['s3', 's5'])
    expect(await only(inv('mem', '$gt', 100))).toEqual(['s1', 's3'])
    expect(await only(inv('mem', '$lt', 'c'))).toEqual(['s2', 's5'])
    expect(await only(inv('mem', '$gte', 'big'))).toEqual(['s5'])
  })

  test('search: negations include devices lacking the attribute; arrays match by element or whole', async () => {
    expect(await only(inv('mem', '$ne', 512))).toEqual(['s2', 's3', 's4', 's5'])
    expect(await only(inv('mem', '$exists', false))).toEqual(['s4'])
    expect(await only(inv('ifaces', '$eq', 'wlan0'))).toEqual(['s2', 's5'])
    expect(await only(inv('ifaces', '$nin', ['eth0']))).toEqual(['s1', 's3', 's4', 's5'])
    expect(await only(inv('ifaces', '$eq', ['eth0', 'wlan0']))).toEqual(['s2'])
    expect(await only(inv('ifaces', '$eq', []))).toEqual(['s4'])
    expect(await only(inv('ifaces', '$exists', true))).toEqual(['s2', 's4', 's5'])
  })

  test('search: $regex, prefixes, the status partition, the device id, the group, unknown names', async () => {
    expect(await only(inv('host', '$regex', '[GZ]'))).toEqual(['s4'])
    expect(await only(inv('host', '$regex', '/^k.*s$/i'))).toEqual(['s1'])
    expect(await only({ scope: 'identity', name: 'mac', op: '$prefix', value: 'mac-s' })).toHaveLength(5)
    expect(await only({ scope: 'identity', name: 'status', op: '$eq', value: 'pending' })).toEqual(['s3'])
    expect(await only({ scope: 'identity', name: 'id', op: '$in', value: ['s4', 's1', 's9'] })).toEqual([
      's1',
      's4',
    ])
    expect(await only({ scope: 'system', name: 'group', op: '$eq', value: 'blue' })).toEqual(['s2'])
    expect(await only(inv('nothing', '$eq', 1))).toEqual([])
    expect(await only(inv('nothing', '$ne', 1))).toHaveLength(5)
    expect((await ids({}, 'elsewhere')).ids).toEqual(['s9'])
  })

  test('search: sorts missing, then numbers, then strings byte-wise; arrays by their ends; ties by age', async () => {
    const sorted = async (name: string, desc: boolean) =>
      (await ids({ sort: [{ scope: 'inventory', name, desc }] })).ids
    expect(await sorted('mem', false)).toEqual(['s4', 's1', 's3', 's2', 's5'])
    expect(await sorted('mem', true)).toEqual(['s5', 's2', 's3', 's1', 's4'])
    expect(await sorted('host', false)).toEqual(['s2', 's5', 's1', 's4', 's3'])
    expect(await sorted('ifaces', true)).toEqual(['s5', 's2', 's4', 's3', 's1'])
    expect((await ids({ sort: [{ scope: 'inventory', name: 'unknown', desc: true }] })).ids).toEqual([
      's5',
      's4',
      's3',
      's2',
      's1',
    ])
  })

  test('search: pages carry the total, also past the end; the attributes shown', async () => {
    expect(await ids({ page: 2, perPage: 2 })).toEqual({ ids: ['s3', 's4'], total: 5 })
    expect(await ids({ page: 9, perPage: 2 })).toEqual({ ids: [], total: 5 })
    const page = await stores().search.search(T, {
      filters: [inv('mem', '$eq', 512)],
      sort: [],
      page: 1,
      perPage: 20,
      attributes: [{ scope: 'inventory', name: 'host' }],
    })
    const shown = page.devices[0]!.attributes.map((a) => `${a.scope}/${a.name}`)
    expect(shown).toEqual(['inventory/host', 'system/updated_ts'])
    expect(page.devices[0]!.identities).toBeUndefined()
    const full = (await stores().search.search(T, { filters: [], sort: [], page: 1, perPage: 1 })).devices[0]!
    expect(full.identities).toEqual(['mac-s1'])
  })

  test('search: free text finds any word, stemmed, whatever its case and accents, within tenant and status', async () => {
    expect((await ids({ text: ['device'] })).ids).toEqual(['s1'])
    expect((await ids({ text: ['KITCHEN'] })).ids).toEqual(['s1'])
    expect((await ids({ text: ['cafe'] })).ids).toEqual(['s3'])
    expect((await ids({ text: ['zebra', 'blue'] })).ids).toEqual(['s2', 's4'])
    expect((await ids({ text: ['s9'] })).ids).toEqual([])
    expect(
      (
        await ids({
          text: ['garage'],
          filters: [{ scope: 'identity', name: 'status', op: '$eq', value: 'accepted' }],
        })
      ).ids,
    ).toEqual([])
    expect((await ids({ text: [] })).total).toBe(0)
  })
}
