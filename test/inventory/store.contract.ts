import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { STATUS_CODES } from '../../src/services/inventory/model.ts'
import { DEVICE_ID } from '../../src/services/inventory/names.ts'
import type { InventoryStore } from '../../src/services/inventory/store.ts'

export type InventoryContractTarget = {
  store: InventoryStore
  /** How many devices of the tenant the free-text index finds for `word`. */
  textMatches(tenantId: string, word: string): number
  close(): Promise<void>
}

const ACCEPTED = STATUS_CODES.accepted
const PENDING = STATUS_CODES.pending

/**
 * What every engine's inventory store promises; each engine's test file runs it against a real
 * database. Every call is awaited, so the suite holds for a store whose methods return promises.
 */
export function inventoryStoreContract(name: string, open: () => Promise<InventoryContractTarget>): void {
  describe(`${name} inventory store`, () => {
    let target: InventoryContractTarget
    let store: InventoryStore
    beforeAll(async () => {
      target = await open()
      store = target.store
    })
    afterAll(() => target.close())

    /** The id of an attribute name, made when new. */
    const attr = (tenantId: string, scope: string, attrName: string) =>
      store.write(() => store.names.ensure(tenantId, scope, attrName).id)

    test('names: made once, found by key and by id, per tenant', async () => {
      const made = await store.write(() => store.names.ensure('n', 'inventory', 'hostname'))
      expect(await store.write(() => store.names.ensure('n', 'inventory', 'hostname'))).toEqual(made)
      expect(store.names.find('n', 'inventory', 'hostname')).toEqual(made)
      expect(store.names.find('other', 'inventory', 'hostname')).toBeUndefined()
      expect(store.names.names([made.id, -1]).get(made.id)).toEqual(made)
      expect(store.names.names([-1]).size).toBe(0)
    })

    test('a name made in a write that rolls back is not kept', async () => {
      expect(() =>
        store.write(() => {
          store.names.ensure('rb', 'inventory', 'ghost')
          throw new Error('the change failed')
        }),
      ).toThrow('the change failed')
      expect(store.names.find('rb', 'inventory', 'ghost')).toBeUndefined()
    })

    test('devices: inserted with their id attribute, found, counted by status, deleted', async () => {
      const tenant = 'dev'
      const a = await store.write(() => store.insertDevice(tenant, 'a', ACCEPTED))
      const b = await store.write(() => store.insertDevice(tenant, 'b', PENDING))
      expect(a).toMatchObject({ id: 'a', status: ACCEPTED, tagsEtag: null })
      expect(await store.findDevice(tenant, 'a')).toEqual(a)
      expect(await store.findDevice('other', 'a')).toBeUndefined()
      const idAttr = store.names.find(tenant, DEVICE_ID.scope, DEVICE_ID.name)!.id
      expect(await store.attributeRows(tenant, a.seq, idAttr)).toEqual([{ idx: null, value: 'a' }])
      expect(await store.deviceIdsWithStatus(tenant, ACCEPTED)).toEqual(['a'])
      const counts = await store.attributeCounts(tenant)
      expect(counts).toEqual(
        expect.arrayContaining([
          { attr: idAttr, status: ACCEPTED, devices: 1 },
          { attr: idAttr, status: PENDING, devices: 1 },
        ]),
      )
      await store.write(() => store.setStatus(tenant, b, ACCEPTED))
      expect(await store.deviceIdsWithStatus(tenant, ACCEPTED)).toEqual(['a', 'b'])
      await store.write(() => store.deleteDevice(tenant, { seq: b.seq, status: ACCEPTED }))
      expect(await store.findDevice(tenant, 'b')).toBeUndefined()
      expect(await store.deviceIdsWithStatus(tenant, ACCEPTED)).toEqual(['a'])
      expect(
        (await store.attributeCounts(tenant)).find((c) => c.attr === idAttr && c.status === ACCEPTED)
          ?.devices,
      ).toBe(1)
    })

    test('attributes: set (scalars and lists), read, looked up by value, removed; counts follow', async () => {
      const tenant = 'attr'
      const group = await attr(tenant, 'system', 'group')
      const ifaces = await attr(tenant, 'inventory', 'ifaces')
      const [a, b, c] = await Promise.all(
        ['a', 'b', 'c'].map((id) => store.write(() => store.insertDevice(tenant, id, ACCEPTED))),
      )
      for (const [device, value] of [
        [a!, 'north'],
        [b!, 'south'],
        [c!, 'north'],
      ] as const) {
        await store.write(() => store.setAttribute(tenant, device, group, [{ idx: null, value }]))
      }
      await store.write(() =>
        store.setAttribute(
          tenant,
          a!,
          ifaces,
          [
            { idx: 0, value: 'eth0' },
            { idx: 1, value: 'wlan0' },
          ],
          { description: 'network' },
        ),
      )
      expect(await store.attributeRows(tenant, a!.seq, ifaces)).toEqual([
        { idx: 0, value: 'eth0' },
        { idx: 1, value: 'wlan0' },
      ])
      const all = await store.deviceAttributes(tenant, a!.seq)
      expect(all.find((row) => row.attr === ifaces && row.idx === 1)).toMatchObject({
        value: 'wlan0',
        description: 'network',
      })
      expect((await store.devicesWithValue(tenant, group, 'north')).map((d) => d.seq)).toEqual([
        a!.seq,
        c!.seq,
      ])
      expect(await store.distinctValues(tenant, group, [ACCEPTED, PENDING])).toEqual(['north', 'south'])
      expect(await store.deviceIdsWithValue(tenant, group, ACCEPTED, 'north')).toEqual(['a', 'c'])
      expect(await store.deviceIdsWithValue(tenant, group, PENDING, 'north')).toEqual([])
      const groupCount = async () =>
        (await store.attributeCounts(tenant)).find((row) => row.attr === group && row.status === ACCEPTED)
          ?.devices
      expect(await groupCount()).toBe(3)
      await store.write(() => store.removeAttribute(tenant, c!, group))
      expect(await store.attributeRows(tenant, c!.seq, group)).toEqual([])
      expect(await groupCount()).toBe(2)
      await store.write(() => store.setTagsEtag(tenant, a!, 'etag-1'))
      expect((await store.findDevice(tenant, 'a'))?.tagsEtag).toBe('etag-1')
    })

    test('the free-text index follows a device text once flushed', async () => {
      const tenant = 'text'
      const hostname = await attr(tenant, 'inventory', 'hostname')
      const device = await store.write(() => store.insertDevice(tenant, 'txt-1', ACCEPTED))
      await store.write(() =>
        store.setAttribute(tenant, device, hostname, [{ idx: null, value: 'garage-door' }]),
      )
      while ((await store.flushText(100)) > 0) {}
      expect(target.textMatches(tenant, 'garage')).toBe(1)
      await store.write(() => store.setAttribute(tenant, device, hostname, [{ idx: null, value: 'attic' }]))
      while ((await store.flushText(100)) > 0) {}
      expect(target.textMatches(tenant, 'garage')).toBe(0)
      expect(target.textMatches(tenant, 'attic')).toBe(1)
    })
  })
}
