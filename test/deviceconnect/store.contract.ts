import { beforeEach, describe, expect, test } from 'bun:test'
import type { SessionRecord } from '../../src/services/deviceconnect/model.ts'
import type { SessionSlot } from '../../src/services/deviceconnect/registry.ts'
import type { DeviceconnectStore } from '../../src/services/deviceconnect/store.ts'

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000)

const session = (id: string, fields: Partial<SessionRecord> = {}): SessionRecord => ({
  id,
  tenantId: '',
  userId: 'user-1',
  deviceId: 'device-1',
  kind: 'remote',
  startTs: at(0),
  endTs: null,
  end: 'open',
  bytes: 0,
  recordedBytes: 0,
  path: null,
  ...fields,
})

export const slot = (id: string, fields: Partial<SessionSlot> = {}): SessionSlot => ({
  id,
  tenantId: 't1',
  userId: 'user-1',
  deviceId: 'device-1',
  instanceId: 'instance-1',
  ...fields,
})
export const LIMITS = { perUser: 2, perDevice: 3, leaseMs: 60_000 }

/** What every deviceconnect store promises; each engine's test file runs it against a fresh store. */
export function deviceconnectStoreContract(name: string, open: () => Promise<DeviceconnectStore>): void {
  describe(`${name} deviceconnect store`, () => {
    let store: DeviceconnectStore
    beforeEach(async () => {
      store = await open()
    })

    test('connect creates the row, bumps the version; only the latest connect can be closed', async () => {
      expect(await store.findDevice('', 'd')).toBeUndefined()
      const first = await store.connectDevice('', 'd', at(1))
      const second = await store.connectDevice('', 'd', at(2))
      expect(second).toBeGreaterThan(first)
      expect(await store.disconnectDevice('', 'd', first, at(3))).toBe(false)
      expect((await store.findDevice('', 'd'))?.status).toBe('connected')
      expect(await store.disconnectDevice('', 'd', second, at(4))).toBe(true)
      const row = await store.findDevice('', 'd')
      expect(row).toMatchObject({ status: 'disconnected', createdTs: at(1), updatedTs: at(4) })
    })

    test('provisioning creates a disconnected row and never overwrites one', async () => {
      await store.provisionDevice('', 'p', at(1))
      expect((await store.findDevice('', 'p'))?.status).toBe('disconnected')
      await store.connectDevice('', 'p', at(2))
      await store.provisionDevice('', 'p', at(3))
      expect((await store.findDevice('', 'p'))?.status).toBe('connected')
    })

    test('tenants are apart; a device and a tenant can be deleted', async () => {
      await store.connectDevice('t1', 'd', at(1))
      expect(await store.findDevice('t2', 'd')).toBeUndefined()
      expect(await store.deleteDevice('t2', 'd')).toBe(false)
      expect(await store.deleteDevice('t1', 'd')).toBe(true)
      await store.connectDevice('t1', 'd', at(1))
      await store.insertSession(session('s-t1', { tenantId: 't1' }))
      await store.appendRecording('t1', 's-t1', { seq: 0, data: new Uint8Array([1]) }, at(1))
      await store.deleteTenant('t1')
      expect(await store.findDevice('t1', 'd')).toBeUndefined()
      expect(await store.findSession('t1', 's-t1')).toBeUndefined()
      expect(await store.readRecording('t1', 's-t1', -1, 10)).toEqual([])
    })

    test('sessions: inserted open, ended once, listed newest first with filters and a total', async () => {
      await store.insertSession(session('a', { startTs: at(1) }))
      await store.insertSession(session('b', { startTs: at(2), deviceId: 'device-2' }))
      await store.insertSession(
        session('c', { startTs: at(3), userId: 'user-2', kind: 'download', path: '/x' }),
      )
      const outcome = { end: 'user_closed' as const, endTs: at(9), bytes: 10, recordedBytes: 5 }
      await store.endSession('', 'a', outcome)
      await store.endSession('', 'a', { ...outcome, end: 'idle_timeout' })
      expect(await store.findSession('', 'a')).toMatchObject(outcome)
      expect(await store.findSession('other', 'a')).toBeUndefined()
      const all = await store.listSessions('', {}, { offset: 0, limit: 2 })
      expect(all.total).toBe(3)
      expect(all.sessions.map((s) => s.id)).toEqual(['c', 'b'])
      expect(
        (await store.listSessions('', { deviceId: 'device-2' }, { offset: 0, limit: 10 })).sessions,
      ).toHaveLength(1)
      const byUser = await store.listSessions('', { userId: 'user-2' }, { offset: 0, limit: 10 })
      expect(byUser.sessions[0]).toMatchObject({ id: 'c', kind: 'download', path: '/x' })
    })

    test('live state is reset at start: devices disconnected, open sessions ended', async () => {
      await store.connectDevice('', 'live', at(1))
      await store.insertSession(session('open-1'))
      await store.resetLiveState(at(5))
      expect((await store.findDevice('', 'live'))?.status).toBe('disconnected')
      expect(await store.findSession('', 'open-1')).toMatchObject({ end: 'server_stopped', endTs: at(5) })
    })

    test('recordings are read in order, a page at a time, and expire by age', async () => {
      for (let seq = 0; seq < 5; seq++) {
        await store.appendRecording('', 'rec', { seq, data: new Uint8Array([seq]) }, at(seq))
      }
      const first = await store.readRecording('', 'rec', -1, 2)
      expect(first.map((c) => c.seq)).toEqual([0, 1])
      expect([...first[1]!.data]).toEqual([1])
      expect((await store.readRecording('', 'rec', 1, 10)).map((c) => c.seq)).toEqual([2, 3, 4])
      expect(await store.deleteRecordingsBefore(at(3))).toBe(3)
      expect((await store.readRecording('', 'rec', -1, 10)).map((c) => c.seq)).toEqual([3, 4])
    })

    test('open sessions: counted per user and per device, whichever instance holds them', async () => {
      expect(await store.takeSlot(slot('u1', { instanceId: 'a' }), LIMITS)).toBeUndefined()
      expect(await store.takeSlot(slot('u2', { instanceId: 'b' }), LIMITS)).toBeUndefined()
      // The user's third, on any device: the user's limit.
      expect(await store.takeSlot(slot('u3', { deviceId: 'device-2' }), LIMITS)).toBe('user')
      // Other users on the same device, up to the device's limit.
      expect(await store.takeSlot(slot('o1', { userId: 'user-2' }), LIMITS)).toBeUndefined()
      expect(await store.takeSlot(slot('o2', { userId: 'user-3' }), LIMITS)).toBe('device')
      // Another tenant's user and device of the same names count apart.
      expect(await store.takeSlot(slot('t2', { tenantId: 't2' }), LIMITS)).toBeUndefined()
      // A place given back is free again; giving it back twice changes nothing.
      await store.releaseSlot('u1')
      await store.releaseSlot('u1')
      expect(await store.takeSlot(slot('o2', { userId: 'user-3' }), LIMITS)).toBeUndefined()
      expect(await store.takeSlot(slot('u3', { deviceId: 'device-2' }), LIMITS)).toBeUndefined()
      expect(await store.takeSlot(slot('u4', { deviceId: 'device-2' }), LIMITS)).toBe('user')
      // Renewing is a heartbeat: it frees nothing and takes nothing.
      await store.renewSlots(['u2', 'o1', 'o2'], LIMITS.leaseMs)
      await store.renewSlots([], LIMITS.leaseMs)
      expect(await store.takeSlot(slot('u4', { deviceId: 'device-2' }), LIMITS)).toBe('user')
      // Places within their lease are never dropped.
      expect(await store.dropExpiredSlots(at(10))).toBe(0)
      expect(await store.takeSlot(slot('u4', { deviceId: 'device-2' }), LIMITS)).toBe('user')
    })

    test('places being given back do not count', async () => {
      const one = { ...LIMITS, perUser: 1 }
      expect(await store.takeSlot(slot('a'), one)).toBeUndefined()
      expect(await store.takeSlot(slot('b'), one, ['a'])).toBeUndefined()
      expect(await store.takeSlot(slot('c'), one, ['a'])).toBe('user')
    })

    test("a deleted tenant's open sessions no longer count", async () => {
      const one = { ...LIMITS, perUser: 1 }
      expect(await store.takeSlot(slot('a'), one)).toBeUndefined()
      expect(await store.takeSlot(slot('b'), one)).toBe('user')
      await store.deleteTenant('t1')
      expect(await store.takeSlot(slot('b'), one)).toBeUndefined()
    })
  })
}
