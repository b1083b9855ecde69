import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { DeviceStatus } from '../../src/services/deviceauth/model.ts'
import type { AuthSetRow, DeviceauthStore, DeviceRow, TokenRow } from '../../src/services/deviceauth/store.ts'

export type DeviceauthContractTarget = { store: DeviceauthStore; close(): Promise<void> }

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute))

let serial = 0
function device(
  tenantId: string,
  status: DeviceStatus = 'pending',
  overrides: Partial<DeviceRow> = {},
): DeviceRow {
  serial++
  return {
    id: crypto.randomUUID(),
    tenantId,
    identity: JSON.stringify({ mac: `00:00:${serial}` }),
    identityHash: `hash-${serial}-${crypto.randomUUID()}`,
    status,
    createdTs: at(serial),
    updatedTs: at(serial),
    checkInTs: null,
    ...overrides,
  }
}

function authSet(owner: DeviceRow, status: DeviceStatus = 'pending'): AuthSetRow {
  serial++
  return {
    id: crypto.randomUUID(),
    tenantId: owner.tenantId,
    deviceId: owner.id,
    pubkey: `key-${serial}`,
    status,
    createdTs: at(serial),
  }
}

const tokenFor = (set: AuthSetRow, expires = at(1000)): TokenRow => ({
  id: set.id,
  tenantId: set.tenantId,
  deviceId: set.deviceId,
  expiresTs: expires,
  createdTs: at(0),
})

/**
 * What every engine's deviceauth store promises; each engine's test file runs it against a real
 * database. Every call is awaited, so the suite holds for a store whose methods return promises.
 */
export function deviceauthStoreContract(name: string, open: () => Promise<DeviceauthContractTarget>): void {
  describe(`${name} deviceauth store`, () => {
    let target: DeviceauthContractTarget
    let store: DeviceauthStore
    beforeAll(async () => {
      target = await open()
      store = target.store
    })
    afterAll(() => target.close())

    /** A device with one auth set in `status` (and its token when accepted). */
    async function enrolled(tenantId: string, status: DeviceStatus = 'pending') {
      const d = device(tenantId, status)
      await store.insertDevice(d)
      const set = authSet(d, status)
      await store.insertAuthSet(set)
      if (status === 'accepted') await store.upsertToken(tokenFor(set))
      return { device: d, set }
    }

    test('devices: insert, find by id and by identity hash, within their tenant only', async () => {
      const d = device('t1')
      await store.insertDevice(d)
      expect(await store.findDeviceById('t1', d.id)).toEqual(d)
      expect(await store.findDeviceByIdentityHash('t1', d.identityHash)).toEqual(d)
      expect(await store.findDeviceById('t2', d.id)).toBeUndefined()
      expect(await store.findDeviceByIdentityHash('t2', d.identityHash)).toBeUndefined()
    })

    test('an identity is unique within a tenant', async () => {
      const d = device('t3')
      await store.insertDevice(d)
      const clash = Promise.resolve().then(() =>
        store.insertDevice(device('t3', 'pending', { identityHash: d.identityHash })),
      )
      await expect(clash).rejects.toThrow()
    })

    test('status and check-in time are set on the device', async () => {
      const d = device('st')
      await store.insertDevice(d)
      await store.setDeviceStatus('st', d.id, 'accepted', at(70))
      await store.setDeviceCheckIn('st', d.id, at(71))
      expect(await store.findDeviceById('st', d.id)).toEqual({
        ...d,
        status: 'accepted',
        updatedTs: at(70),
        checkInTs: at(71),
      })
    })

    test('lists page by status then id, filter by statuses and ids; counts by status', async () => {
      const tenant = 'list'
      const rows = [device(tenant, 'pending'), device(tenant, 'accepted'), device(tenant, 'accepted')]
      for (const row of rows) await store.insertDevice(row)
      const expected = [...rows].sort((a, b) => a.status.localeCompare(b.status) || a.id.localeCompare(b.id))
      expect((await store.listDevices(tenant, {}, 0, 10)).map((d) => d.id)).toEqual(expected.map((d) => d.id))
      expect((await store.listDevices(tenant, {}, 1, 1)).map((d) => d.id)).toEqual([expected[1]!.id])
      const accepted = await store.listDevices(tenant, { statuses: ['accepted'] }, 0, 10)
      expect(accepted.map((d) => d.status)).toEqual(['accepted', 'accepted'])
      expect((await store.listDevices(tenant, { ids: [rows[0]!.id] }, 0, 10)).map((d) => d.id)).toEqual([
        rows[0]!.id,
      ])
      expect(await store.countDevices(tenant)).toBe(3)
      expect(await store.countDevices(tenant, 'accepted')).toBe(2)
      expect(await store.countDevices(tenant, 'rejected')).toBe(0)
    })

    test('auth sets: listed oldest first per device, found by id and by key, statuses read', async () => {
      const { device: d, set: first } = await enrolled('sets')
      const second = authSet(d, 'rejected')
      await store.insertAuthSet(second)
      const other = await enrolled('sets')
      const listed = await store.listAuthSets('sets', [d.id, other.device.id])
      expect(listed.map((s) => s.id)).toEqual([first.id, second.id, other.set.id])
      expect(await store.listAuthSets('sets', [])).toEqual([])
      expect(await store.findAuthSetById('sets', second.id)).toEqual(second)
      expect(await store.findAuthSetById('elsewhere', second.id)).toBeUndefined()
      expect(await store.findAuthSetByKey('sets', d.id, second.pubkey)).toEqual(second)
      expect(await store.findAuthSetByKey('sets', other.device.id, second.pubkey)).toBeUndefined()
      expect((await store.authSetStatuses('sets', d.id)).sort()).toEqual(['pending', 'rejected'])
    })

    test('tokens: upserted once per auth set, found, deleted; each removal moves the revocation count', async () => {
      const { device: d, set } = await enrolled('tok', 'accepted')
      expect(await store.findTokenById('tok', set.id)).toEqual({ deviceId: d.id })
      expect(await store.findTokenById('other', set.id)).toBeUndefined()
      const before = await store.revocationCount()
      await store.upsertToken(tokenFor(set, at(2000)))
      expect(await store.revocationCount()).toBe(before)
      expect(await store.deleteToken('tok', set.id)).toBe(true)
      expect(await store.deleteToken('tok', set.id)).toBe(false)
      expect(await store.findTokenById('tok', set.id)).toBeUndefined()
      expect(await store.revocationCount()).toBe(before + 1)
    })

    test('an auth set leaving accepted loses its token; accepting one rejects the others', async () => {
      const { device: d, set } = await enrolled('acc', 'accepted')
      const next = authSet(d, 'pending')
      await store.insertAuthSet(next)
      const before = await store.revocationCount()
      await store.setAuthSetStatus('acc', next.id, 'accepted')
      expect(await store.revocationCount()).toBe(before)
      await store.rejectOtherAcceptedAuthSets('acc', d.id, next.id)
      expect((await store.findAuthSetById('acc', set.id))?.status).toBe('rejected')
      expect((await store.findAuthSetById('acc', next.id))?.status).toBe('accepted')
      expect(await store.findTokenById('acc', set.id)).toBeUndefined()
      expect(await store.revocationCount()).toBe(before + 1)
      await store.upsertToken(tokenFor(next))
      await store.setAuthSetStatus('acc', next.id, 'rejected')
      expect(await store.findTokenById('acc', next.id)).toBeUndefined()
      expect(await store.revocationCount()).toBe(before + 2)
    })

    test('deleting an auth set or a device takes what hangs on it', async () => {
      const { device: d, set } = await enrolled('gone', 'accepted')
      const spare = authSet(d, 'pending')
      await store.insertAuthSet(spare)
      const before = await store.revocationCount()
      await store.deleteAuthSet('gone', set.id)
      expect(await store.findAuthSetById('gone', set.id)).toBeUndefined()
      expect(await store.findTokenById('gone', set.id)).toBeUndefined()
      expect(await store.revocationCount()).toBe(before + 1)
      expect(await store.deleteDevice('gone', d.id)).toBe(true)
      expect(await store.deleteDevice('gone', d.id)).toBe(false)
      expect(await store.findDeviceById('gone', d.id)).toBeUndefined()
      expect(await store.findAuthSetById('gone', spare.id)).toBeUndefined()
    })

    test('a transaction commits together or not at all', async () => {
      const kept = device('tx')
      const dropped = device('tx')
      await store.transaction(() => {
        store.insertDevice(kept)
      })
      expect(() =>
        store.transaction(() => {
          store.insertDevice(dropped)
          throw new Error('the change failed')
        }),
      ).toThrow('the change failed')
      expect(await store.findDeviceById('tx', kept.id)).toEqual(kept)
      expect(await store.findDeviceById('tx', dropped.id)).toBeUndefined()
    })
  })
}
