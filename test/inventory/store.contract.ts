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
