import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { SearchRequest } from '../../src/services/inventory/filters.ts'
import { ALL_STATUS_CODES, STATUS_CODES } from '../../src/services/inventory/model.ts'
import type { InventorySearchStore } from '../../src/services/inventory/store.search.ts'
import type { InventoryStore } from '../../src/services/inventory/store.ts'
import { searchStoreContract } from './search.contract.ts'

export type InventoryContractTarget = {
  store: InventoryStore
  search: InventorySearchStore
  close(): Promise<void>
}

const ACCEPTED = STATUS_CODES.accepted
const PENDING = STATUS_CODES.pending
const at = (day: number) => new Date(Date.UTC(2026, 0, day, 12))
const merge = (max = 100, now = at(1)) => ({ replace: false, now, max })

/**
 * What every engine's inventory store promises; each engine's test file runs it against a real
 * database. Every call is awaited, so the suite holds for a store whose methods return promises.
 */
export function inventoryStoreContract(name: string, open: () => Promise<InventoryContractTarget>): void {
  describe(`${name} inventory store`, () => {
    let target: InventoryContractTarget
    let store: InventoryStore
    let search: InventorySearchStore
    beforeAll(async () => {
      target = await open()
      store = target.store
      search = target.search
    })
    afterAll(async () => {
      search.stop()
      await target.close()
    })

    /** The ids a search finds (every search method's answer is checked through it) and the total. */
    async function found(tenantId: string, request: Partial<SearchRequest>) {
      const page = await search.search(tenantId, { filters: [], sort: [], page: 1, perPage: 20, ...request })
      return { ids: page.devices.map((device) => device.id), total: page.total }
    }

    /** How many devices of the tenant the free-text index finds for `word`. */
    const textMatches = async (tenantId: string, word: string) =>
      (await found(tenantId, { text: [word] })).total

    /** The device's attributes of one scope, by name. */
    async function scope(tenantId: string, id: string, name: string) {
      const found = await store.getDevice(tenantId, id)
      const attributes = found?.device.attributes.filter((attribute) => attribute.scope === name) ?? []
      return Object.fromEntries(attributes.map((attribute) => [attribute.name, attribute.value]))
    }

    test('identity: creates the device, sets its status, moves it between statuses', async () => {
      await store.writeIdentity('id', 'a', [{ name: 'mac', value: 'm1' }], PENDING, at(1))
      expect(await scope('id', 'a', 'identity')).toEqual({ mac: 'm1' })
      expect((await scope('id', 'a', 'system')).created_ts).toBe(at(1).toISOString())
      expect((await store.statusTotals('id')).get(PENDING)).toBe(1)
      await store.writeIdentity('id', 'a', [{ name: 'status', value: 'accepted' }], ACCEPTED, at(2))
      expect(await scope('id', 'a', 'identity')).toEqual({ mac: 'm1', status: 'accepted' })
      expect((await store.statusTotals('id')).get(ACCEPTED)).toBe(1)
      expect((await store.statusTotals('id')).get(PENDING) ?? 0).toBe(0)
      expect(await store.acceptedDeviceIds('id')).toEqual(['a'])
      expect(await store.getDevice('other', 'a')).toBeUndefined()
    })

    test('inventory reports: merge, replace, the attribute cap, updated_ts once a day', async () => {
      await store.writeIdentity('inv', 'd', [], ACCEPTED, at(1))
      const report = [
        { name: 'kernel', value: '5.10' },
        { name: 'ifaces', value: ['eth0', 'wlan0'] },
      ]
      expect(await store.updateInventory('inv', 'd', report, merge())).toBe('changed')
      expect(await scope('inv', 'd', 'inventory')).toEqual({ kernel: '5.10', ifaces: ['eth0', 'wlan0'] })
      const updated = (await scope('inv', 'd', 'system')).updated_ts
      expect(await store.updateInventory('inv', 'd', report, merge())).toBe('unchanged')
      expect((await scope('inv', 'd', 'system')).updated_ts).toBe(updated)
      expect(await store.updateInventory('inv', 'd', report, merge(100, at(2)))).toBe('unchanged')
      expect((await scope('inv', 'd', 'system')).updated_ts).toBe(at(2).toISOString())
      expect(await store.updateInventory('inv', 'd', [{ name: 'third', value: 1 }], merge(2))).toBe(
        'too-many',
      )
      expect(
        await store.updateInventory('inv', 'd', [{ name: 'only', value: 'x' }], {
          ...merge(),
          replace: true,
        }),
      ).toBe('changed')
      expect(await scope('inv', 'd', 'inventory')).toEqual({ only: 'x' })
      // A refused report of a new device leaves no device behind.
      expect(await store.updateInventory('inv', 'new', [{ name: 'a', value: 1 }], merge(0))).toBe('too-many')
      expect(await store.getDevice('inv', 'new')).toBeUndefined()
      await store.deleteInventory('inv', 'd', at(3))
      expect(await scope('inv', 'd', 'inventory')).toEqual({})
      await store.deleteInventory('inv', 'unknown', at(3))
      expect(await store.getDevice('inv', 'unknown')).toBeUndefined()
    })

    test('groups: set, read, cleared, assigned and unassigned in bulk, listed by status, deleted', async () => {
      for (const [id, status] of [
        ['a', ACCEPTED],
        ['b', ACCEPTED],
        ['p', PENDING],
      ] as const)
        await store.writeIdentity('grp', id, [], status, at(1))
      expect(await store.getGroup('grp', 'a')).toBeNull()
      expect(await store.getGroup('grp', 'unknown')).toBeUndefined()
      expect(await store.setGroup('grp', 'a', 'north')).toBe(true)
      expect(await store.setGroup('grp', 'unknown', 'north')).toBe(false)
      expect(await store.getGroup('grp', 'a')).toBe('north')
      expect(await store.clearGroup('grp', 'a', 'south')).toBe(false)
      expect(await store.clearGroup('grp', 'a', 'north')).toBe(true)
      expect(await store.assignGroup('grp', 'south', ['a', 'b', 'p', 'unknown', 'a'])).toEqual({
        matched: 3,
        updated: 3,
      })
      expect(await store.assignGroup('grp', 'south', ['a'])).toEqual({ matched: 1, updated: 0 })
      expect(await store.acceptedDeviceIds('grp', 'south')).toEqual(['a', 'b'])
      expect(await store.unassignGroup('grp', 'south', ['b', 'unknown'])).toBe(1)
      await store.setGroup('grp', 'b', 'east')
      expect(await store.listGroups('grp', ALL_STATUS_CODES)).toEqual(['east', 'south'])
      expect(await store.listGroups('grp', [PENDING])).toEqual(['south'])
      expect(await store.deleteGroup('grp', 'south')).toBe(2)
      expect(await store.listGroups('grp', ALL_STATUS_CODES)).toEqual(['east'])
      expect(await store.deleteGroup('nobody', 'south')).toBe(0)
    })

    test('tags: written with an ETag, the If-Match check, the cap', async () => {
      await store.writeIdentity('tag', 'd', [], ACCEPTED, at(1))
      const tags = (replace: boolean, ifMatch?: string, max = 20) => ({
        replace,
        ifMatch,
        timestamp: at(1).getTime(),
        etag: crypto.randomUUID(),
        max,
      })
      expect(await store.setTags('tag', 'd', [{ name: 'owner', value: 'ops' }], tags(false))).toBe('ok')
      const etag = (await store.getDevice('tag', 'd'))?.etag
      expect(etag).toBeString()
      expect(await store.setTags('tag', 'd', [], tags(true, 'stale'))).toBe('etag-mismatch')
      expect(await store.setTags('tag', 'd', [{ name: 'more', value: 1 }], tags(false, undefined, 1))).toBe(
        'too-many',
      )
      expect(await store.setTags('tag', 'unknown', [], tags(true))).toBe('missing')
      expect(await store.setTags('tag', 'unknown', [], tags(true, etag))).toBe('etag-mismatch')
      expect(await store.setTags('tag', 'd', [{ name: 'env', value: 'prod' }], tags(true, etag))).toBe('ok')
      expect(await scope('tag', 'd', 'tags')).toEqual({ env: 'prod' })
      expect((await store.getDevice('tag', 'd'))?.etag).not.toBe(etag)
    })

    test('attribute totals count devices per status and attribute', async () => {
      await store.writeIdentity('tot', 'a', [{ name: 'mac', value: '1' }], ACCEPTED, at(1))
      await store.writeIdentity('tot', 'b', [{ name: 'mac', value: '2' }], PENDING, at(1))
      const totals = await store.attributeTotals('tot')
      expect(totals.filter((row) => row.name === 'mac')).toEqual(
        expect.arrayContaining([
          { scope: 'identity', name: 'mac', status: ACCEPTED, devices: 1 },
          { scope: 'identity', name: 'mac', status: PENDING, devices: 1 },
        ]),
      )
      expect(totals.some((row) => row.scope === '')).toBe(false)
    })

    test('check-ins are written for known devices only', async () => {
      await store.writeIdentity('ci', 'a', [], ACCEPTED, at(1))
      await store.writeCheckIns([
        { tenantId: 'ci', deviceId: 'a', at: at(5) },
        { tenantId: 'ci', deviceId: 'unknown', at: at(5) },
      ])
      expect((await scope('ci', 'a', 'system')).check_in_time).toBe(at(5).toISOString())
      expect(await store.getDevice('ci', 'unknown')).toBeUndefined()
    })

    test('check-in times, kept apart, are filtered, sorted, shown and counted like attributes', async () => {
      const t = 'cit'
      for (const id of ['a', 'b', 'c', 'd']) await store.writeIdentity(t, id, [], ACCEPTED, at(1))
      await store.writeIdentity(t, 'p', [], PENDING, at(1))
      for (const [id, kind] of [
        ['a', 'x'],
        ['b', 'y'],
        ['c', 'x'],
      ])
        await store.updateInventory(t, id!, [{ name: 'kind', value: kind! }], merge())
      // d never checks in.
      await store.writeCheckIns([
        { tenantId: t, deviceId: 'a', at: at(3) },
        { tenantId: t, deviceId: 'b', at: at(5) },
        { tenantId: t, deviceId: 'c', at: at(4) },
        { tenantId: t, deviceId: 'p', at: at(2) },
      ])
      const time = (op: string, value: unknown) =>
        ({ scope: 'system', name: 'check_in_time', op, value }) as SearchRequest['filters'][number]
      const ids = async (filters: SearchRequest['filters'], sort: SearchRequest['sort'] = []) =>
        (await found(t, { filters, sort })).ids
      expect(await ids([time('$gt', at(3).toISOString())])).toEqual(['b', 'c'])
      expect(await ids([time('$gte', at(3).toISOString())])).toEqual(['a', 'b', 'c'])
      expect(await ids([time('$lt', at(4).toISOString())])).toEqual(['a', 'p'])
      // A time in another form is compared in the stored one; a number only ever meets numbers.
      expect(await ids([time('$lte', '2026-01-04T12:00:00Z')])).toEqual(['a', 'c', 'p'])
      expect(await ids([time('$lt', 5)])).toEqual([])
      expect(await ids([time('$eq', at(5).toISOString())])).toEqual(['b'])
      expect(await ids([time('$ne', at(5).toISOString())])).toEqual(['a', 'c', 'd', 'p'])
      expect(await ids([time('$in', [at(3).toISOString(), at(4).toISOString()])])).toEqual(['a', 'c'])
      expect(await ids([time('$exists', false)])).toEqual(['d'])
      expect(await ids([time('$regex', '2026-01-0[34]')])).toEqual(['a', 'c'])
      const kindX = { scope: 'inventory', name: 'kind', op: '$eq', value: 'x' } as const
      const accepted = { scope: 'identity', name: 'status', op: '$eq', value: 'accepted' } as const
      expect(await ids([kindX, time('$gt', at(3).toISOString())])).toEqual(['c'])
      expect(await ids([accepted, time('$exists', true)])).toEqual(['a', 'b', 'c'])
      const byTime = (desc: boolean) => [{ scope: 'system', name: 'check_in_time', desc }]
      expect(await ids([], byTime(false))).toEqual(['d', 'p', 'a', 'c', 'b'])
      expect(await ids([], byTime(true))).toEqual(['b', 'c', 'a', 'p', 'd'])
      expect(await ids([kindX], byTime(true))).toEqual(['c', 'a'])
      const shown = await search.search(t, {
        filters: [time('$eq', at(5).toISOString())],
        sort: [],
        page: 1,
        perPage: 20,
        attributes: [{ scope: 'system', name: 'check_in_time' }],
      })
      expect(shown.devices[0]!.attributes).toContainEqual({
        scope: 'system',
        name: 'check_in_time',
        value: at(5).toISOString(),
      })
      const checkedIn = async () =>
        (await store.attributeTotals(t))
          .filter((row) => row.name === 'check_in_time')
          .map(({ status, devices }) => ({ status, devices }))
          .sort((x, y) => x.status - y.status)
      expect(await checkedIn()).toEqual(
        [
          { status: ACCEPTED, devices: 3 },
          { status: PENDING, devices: 1 },
        ].sort((x, y) => x.status - y.status),
      )
      // The time follows its device: to another status, overwritten, and away with it.
      await store.writeIdentity(t, 'p', [], ACCEPTED, at(6))
      expect(await ids([accepted, time('$exists', true)])).toEqual(['a', 'b', 'c', 'p'])
      await store.writeCheckIns([{ tenantId: t, deviceId: 'a', at: at(7) }])
      expect(await ids([], byTime(true))).toEqual(['a', 'b', 'c', 'p', 'd'])
      expect((await store.checkInTimes(t, ['a', 'd', 'unknown'])).get('a')).toEqual(at(7))
      expect([...(await store.checkInTimes(t, ['a', 'd', 'unknown'])).keys()]).toEqual(['a'])
      expect(await store.removeDevice(t, 'b')).toBe(true)
      expect(await ids([time('$exists', true)])).toEqual(['a', 'c', 'p'])
      expect(await checkedIn()).toEqual([{ status: ACCEPTED, devices: 3 }])
    })

    test('removing a device takes every attribute and count; a repeat is no error', async () => {
      await store.writeIdentity('rm', 'a', [{ name: 'mac', value: '1' }], ACCEPTED, at(1))
      expect(await store.removeDevice('rm', 'a')).toBe(true)
      expect(await store.getDevice('rm', 'a')).toBeUndefined()
      expect(await store.attributeTotals('rm')).toEqual([])
      expect(await store.removeDevice('rm', 'a')).toBe(false)
    })

    test('the free-text index follows a device text once flushed', async () => {
      await store.writeIdentity('text', 'txt-1', [], ACCEPTED, at(1))
      await store.updateInventory('text', 'txt-1', [{ name: 'hostname', value: 'garage-door' }], merge())
      while ((await store.flushText(100)) > 0) {}
      expect(await textMatches('text', 'garage')).toBe(1)
      await store.updateInventory('text', 'txt-1', [{ name: 'hostname', value: 'attic' }], merge())
      while ((await store.flushText(100)) > 0) {}
      expect(await textMatches('text', 'garage')).toBe(0)
      expect(await textMatches('text', 'attic')).toBe(1)
    })

    searchStoreContract(() => ({ store, search }))
  })
}
