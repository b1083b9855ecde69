import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventsStore } from '../../src/events/store.ts'
import type { DeviceStatus } from '../../src/services/deviceauth/model.ts'
import { isAllowedTransition } from '../../src/services/deviceauth/status.ts'
import type {
  DeviceauthStore,
  DeviceKey,
  RevocationCounter,
  WriteContext,
} from '../../src/services/deviceauth/store.ts'

export type DeviceauthContractTarget = {
  store: DeviceauthStore
  /** The counter the store bumps whenever a write takes a device token away. */
  revocations: RevocationCounter
  /** The events store of the same database: the store's events are in its outbox. */
  events: EventsStore
  close(): Promise<void>
}

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute))

let serial = 0
const newKey = (): DeviceKey => {
  serial++
  return {
    hash: `hash-${serial}-${crypto.randomUUID()}`,
    normalised: `{"mac":"${serial}"}`,
    pem: `key-${serial}`,
  }
}
const context = (maxAccepted = 0): WriteContext => ({
  now: at(++serial),
  newId: () => crypto.randomUUID(),
  maxAccepted,
})
const request = (maxAccepted = 0, maxPending = 10) => ({
  ...context(maxAccepted),
  maxPending,
  expires: at(5000),
})
const statusContext = (maxAccepted = 0) => ({ ...context(maxAccepted), allowed: isAllowedTransition })

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

    /** A device seen for the first time; answers it with its one (pending) auth set. */
    async function pending(tenantId: string, key = newKey()) {
      const outcome = await store.recordAuthRequest(tenantId, key, request())
      if (outcome.kind !== 'new-device') throw new Error(`expected a new device, got ${outcome.kind}`)
      const [authSet] = await store.listAuthSets(tenantId, [outcome.device.id])
      return { device: outcome.device, authSet: authSet!, key }
    }

    /** An accepted device holding a token. */
    async function accepted(tenantId: string) {
      const made = await pending(tenantId)
      await store.setAuthSetStatus(tenantId, made.device.id, made.authSet.id, 'accepted', statusContext())
      const issued = await store.recordAuthRequest(tenantId, made.key, request())
      expect(issued.kind).toBe('token')
      return made
    }

    test('an auth request: a new device, then a new key, then refused while pending', async () => {
      const { device, authSet, key } = await pending('ar')
      expect(device).toMatchObject({ tenantId: 'ar', status: 'pending', identityHash: key.hash })
      expect(await store.findDeviceByIdentityHash('ar', key.hash)).toEqual(device)
      expect(await store.findDeviceById('ar', device.id)).toEqual(device)
      expect(await store.findAuthSetById('ar', authSet.id)).toMatchObject({
        pubkey: key.pem,
        status: 'pending',
      })
      expect(await store.recordAuthRequest('ar', key, request())).toEqual({ kind: 'refused' })
      const rotated = await store.recordAuthRequest('ar', { ...key, pem: 'another key' }, request())
      expect(rotated).toMatchObject({ kind: 'new-key', device: { id: device.id } })
      expect((await store.listAuthSets('ar', [device.id])).map((set) => set.pubkey)).toEqual([
        key.pem,
        'another key',
      ])
      // Another tenant does not see the device.
      expect(await store.findDeviceById('other', device.id)).toBeUndefined()
    })

    test('past the pending cap the oldest pending keys make room', async () => {
      const { device, key } = await pending('cap')
      for (const pem of ['k2', 'k3', 'k4']) {
        await store.recordAuthRequest('cap', { ...key, pem }, request(0, 2))
      }
      expect((await store.listAuthSets('cap', [device.id])).map((set) => set.pubkey)).toEqual(['k3', 'k4'])
    })

    test('an accepted key gets its token recorded; its check-in is not written here', async () => {
      const { device, authSet, key } = await accepted('tok')
      expect(await store.findTokenById('tok', authSet.id)).toEqual({ deviceId: device.id })
      expect(await store.findTokenById('other', authSet.id)).toBeUndefined()
      const again = await store.recordAuthRequest('tok', key, request())
      expect(again).toMatchObject({
        kind: 'token',
        authSetId: authSet.id,
        accepted: false,
        device: { id: device.id },
      })
      // Check-ins go through deviceauth's buffer to inventory (see service.ts), not to the device row.
      expect((await store.findDeviceById('tok', device.id))?.checkInTs).toBeNull()
    })

    test('a preauthorized key is accepted at its first request, within the accepted-device limit', async () => {
      const key = newKey()
      const made = await store.preauthorize('pre', key, false, context())
      expect(made).toMatchObject({
        kind: 'preauthorized',
        created: true,
        device: { status: 'preauthorized' },
      })
      expect(await store.preauthorize('pre', key, false, context())).toMatchObject({ kind: 'exists' })
      await accepted('pre')
      // One device is accepted already: a limit of one refuses the preauthorized one, writing nothing.
      expect(await store.recordAuthRequest('pre', key, request(1))).toEqual({ kind: 'over-limit' })
      expect(await store.countDevices('pre', 'preauthorized')).toBe(1)
      const outcome = await store.recordAuthRequest('pre', key, request(2))
      expect(outcome).toMatchObject({ kind: 'token', accepted: true, status: 'accepted' })
      expect(await store.countDevices('pre', 'accepted')).toBe(2)
    })

    test('preauthorizing a known identity with force adds the key', async () => {
      const { device, key } = await pending('force')
      const outcome = await store.preauthorize('force', { ...key, pem: 'new key' }, true, context())
      expect(outcome).toMatchObject({ kind: 'preauthorized', created: false, status: 'preauthorized' })
      const sets = await store.listAuthSets('force', [device.id])
      expect(sets.map((set) => [set.pubkey, set.status])).toEqual([
        [key.pem, 'pending'],
        ['new key', 'preauthorized'],
      ])
    })

    test('setting an auth set status: checks, transitions, the limit, the derived device status', async () => {
      const { device, authSet } = await pending('st')
      const set = (id: string, status: DeviceStatus, limit = 0, deviceId = device.id) =>
        store.setAuthSetStatus('st', deviceId, id, status, statusContext(limit))
      expect(await set(crypto.randomUUID(), 'accepted')).toEqual({ kind: 'missing-auth-set' })
      expect(await set(authSet.id, 'accepted', 0, crypto.randomUUID())).toEqual({ kind: 'mismatch' })
      expect(await set(authSet.id, 'pending')).toEqual({ kind: 'unchanged' })
      await accepted('st')
      expect(await set(authSet.id, 'accepted', 1)).toEqual({ kind: 'over-limit' })
      expect(await set(authSet.id, 'accepted')).toEqual({ kind: 'set', status: 'accepted' })
      expect(await set(authSet.id, 'rejected')).toEqual({ kind: 'set', status: 'rejected' })
      expect((await store.findDeviceById('st', device.id))?.status).toBe('rejected')
    })

    test('accepting one key rejects the device’s other accepted key', async () => {
      const { device, authSet, key } = await accepted('two')
      await store.recordAuthRequest('two', { ...key, pem: 'second' }, request())
      const second = (await store.listAuthSets('two', [device.id])).find((set) => set.pubkey === 'second')!
      await store.setAuthSetStatus('two', device.id, second.id, 'accepted', statusContext())
      expect((await store.findAuthSetById('two', authSet.id))?.status).toBe('rejected')
      expect(await store.findTokenById('two', authSet.id)).toBeUndefined()
    })

    test('deleting auth sets: unknown, the device stays as noauth, a last preauthorization takes the device', async () => {
      const { device, authSet } = await pending('del')
      expect(await store.deleteAuthSet('del', device.id, crypto.randomUUID(), at(1))).toEqual({
        kind: 'missing-auth-set',
      })
      expect(await store.deleteAuthSet('del', device.id, authSet.id, at(1))).toEqual({
        kind: 'deleted',
        status: 'noauth',
      })
      const pre = await store.preauthorize('del', newKey(), false, context())
      if (pre.kind !== 'preauthorized') throw new Error('expected a preauthorization')
      const [preSet] = await store.listAuthSets('del', [pre.device.id])
      expect(await store.deleteAuthSet('del', pre.device.id, preSet!.id, at(1))).toEqual({
        kind: 'device-removed',
      })
      expect(await store.findDeviceById('del', pre.device.id)).toBeUndefined()
    })

    test('decommissioning deletes the device with its auth sets and tokens', async () => {
      const { device, authSet } = await accepted('dec')
      expect(await store.decommission('dec', device.id)).toBe(true)
      expect(await store.findDeviceById('dec', device.id)).toBeUndefined()
      expect(await store.listAuthSets('dec', [device.id])).toEqual([])
      expect(await store.findTokenById('dec', authSet.id)).toBeUndefined()
      expect(await store.decommission('dec', device.id)).toBe(false)
    })

    test('listing and counting devices by status and id, a page at a time', async () => {
      const a = await pending('list')
      const b = await accepted('list')
      const c = await pending('list')
      expect(await store.countDevices('list')).toBe(3)
      expect(await store.countDevices('list', 'accepted')).toBe(1)
      const all = await store.listDevices('list', {}, 0, 10)
      expect(all.map((d) => d.status)).toEqual(['accepted', 'pending', 'pending'])
      expect(all[0]!.id).toBe(b.device.id)
      const pendingIds = [a.device.id, c.device.id].sort()
      expect((await store.listDevices('list', { statuses: ['pending'] }, 0, 10)).map((d) => d.id)).toEqual(
        pendingIds,
      )
      expect((await store.listDevices('list', { ids: [c.device.id] }, 0, 10)).map((d) => d.id)).toEqual([
        c.device.id,
      ])
      expect(await store.listDevices('list', {}, 1, 1)).toHaveLength(1)
      expect(await store.listAuthSets('list', [])).toEqual([])
    })

    /** The events written about `deviceId`, oldest first, as type and data. */
    async function eventsOf(deviceId: string) {
      const all = await target.events.readAfter(0, 10_000)
      return all.filter((event) => event.subject === deviceId).map(({ type, data }) => ({ type, data }))
    }

    test('status changes, provisioning and decommissioning are written as events with the change', async () => {
      const { device, authSet, key } = await pending('ev')
      await store.setAuthSetStatus('ev', device.id, authSet.id, 'accepted', statusContext())
      expect(await store.recordAuthRequest('ev', key, request(1))).toMatchObject({ kind: 'token' })
      // A write that changes nothing raises nothing.
      expect(await store.setAuthSetStatus('ev', device.id, authSet.id, 'accepted', statusContext())).toEqual({
        kind: 'unchanged',
      })
      await store.decommission('ev', device.id)
      const events = await eventsOf(device.id)
      expect(events.map((event) => [event.type, event.data.status])).toEqual([
        ['device-status-changed', 'pending'],
        ['device-provisioned', 'accepted'],
        ['device-status-changed', 'accepted'],
        ['device-decommissioned', undefined],
      ])
      expect(events[1]!.data).toEqual({
        id: device.id,
        status: 'accepted',
        auth_sets: [
          {
            id: authSet.id,
            device_id: device.id,
            identity_data: JSON.parse(key.normalised),
            pubkey: key.pem,
            status: 'accepted',
            ts: authSet.createdTs.toISOString(),
          },
        ],
        created_ts: device.createdTs.toISOString(),
      })
      expect(events[3]!.data).toEqual({ id: device.id })
    })

    test('auth sets of the same millisecond are listed, and capped, in the order they came', async () => {
      const { device, key } = await pending('tie')
      const now = at(4000)
      const same = () => ({ ...request(0, 3), now })
      for (const pem of ['t2', 't3', 't4']) await store.recordAuthRequest('tie', { ...key, pem }, same())
      expect((await store.listAuthSets('tie', [device.id])).map((set) => set.pubkey)).toEqual([
        't2',
        't3',
        't4',
      ])
    })

    test('a move the rules forbid, or of a device gone meanwhile, changes nothing', async () => {
      const { device, authSet } = await pending('rules')
      const never = { ...context(), allowed: () => false }
      expect(await store.setAuthSetStatus('rules', device.id, authSet.id, 'accepted', never)).toEqual({
        kind: 'not-allowed',
      })
      expect((await store.findAuthSetById('rules', authSet.id))?.status).toBe('pending')
      expect(await store.deleteAuthSet('rules', crypto.randomUUID(), authSet.id, at(1))).toEqual({
        kind: 'missing-auth-set',
      })
    })

    test('the revocation count moves only when a write takes a token away', async () => {
      const count = () => target.revocations.value
      const one = await accepted('rev')
      const before = count()
      // Accepting, rejecting a pending key, deleting a key without a token: no token goes.
      const other = await pending('rev')
      await store.setAuthSetStatus('rev', other.device.id, other.authSet.id, 'accepted', statusContext())
      const third = await pending('rev')
      await store.setAuthSetStatus('rev', third.device.id, third.authSet.id, 'rejected', statusContext())
      await store.deleteAuthSet('rev', third.device.id, third.authSet.id, at(1))
      expect(await store.deleteToken('rev', other.authSet.id)).toBe(false)
      expect(count()).toBe(before)
      // Each write that takes a token away moves it.
      expect(await store.deleteToken('rev', one.authSet.id)).toBe(true)
      expect(count()).toBe(before + 1)
      await store.recordAuthRequest('rev', one.key, request())
      await store.setAuthSetStatus('rev', one.device.id, one.authSet.id, 'rejected', statusContext())
      expect(count()).toBe(before + 2)
      const fourth = await accepted('rev')
      await store.deleteAuthSet('rev', fourth.device.id, fourth.authSet.id, at(1))
      expect(count()).toBe(before + 3)
      const fifth = await accepted('rev')
      await store.decommission('rev', fifth.device.id)
      expect(count()).toBe(before + 4)
      await store.decommission('rev', other.device.id)
      expect(count()).toBe(before + 4)
    })
  })
}
