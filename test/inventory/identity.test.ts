import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { sqliteOf } from '../../src/deps.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { addDevice, expectCountsConsistent, scopeOf } from './helpers.ts'

let t: TestApp
beforeEach(async () => {
  t = await createTestApp()
})
afterEach(() => t.close())

const get = async (id: string, tenantId = '') => (await t.services.inventory.getDevice(tenantId, id)).device

describe('identity API (called by deviceauth)', () => {
  test('upsertIdentity creates the device with its identity, status and created_ts', async () => {
    await t.services.inventory.upsertIdentity('', 'dev-1', { mac: '00:11:22:33:44:55', sku: 7 }, 'pending')
    const device = await get('dev-1')
    expect(device.id).toBe('dev-1')
    expect(scopeOf(device, 'identity')).toEqual({ mac: '00:11:22:33:44:55', sku: 7, status: 'pending' })
    expect(scopeOf(device, 'system')).toEqual({ created_ts: t.clock.now().toISOString() })
    expect(device.updated_ts).toBeUndefined()
    expect(device.identities).toEqual(['00:11:22:33:44:55', 7, 'pending'])
    expectCountsConsistent(t)
  })

  test('a "status" key in id_data never overrides the status; odd values are kept as JSON text', async () => {
    await t.services.inventory.upsertIdentity(
      '',
      'dev-1',
      { status: 'hacked', flag: true, nested: { a: 1 }, none: null, mixed: [1, 'a'], list: ['x', 'y'] },
      'accepted',
    )
    expect(scopeOf(await get('dev-1'), 'identity')).toEqual({
      status: 'accepted',
      flag: 'true',
      nested: '{"a":1}',
      none: 'null',
      mixed: '[1,"a"]',
      list: ['x', 'y'],
    })
  })

  test('upsertIdentity on a known device updates the status and keeps other attributes', async () => {
    await addDevice(t, 'dev-1', { status: 'pending', inventory: { device_type: 'rpi4' } })
    await t.services.inventory.upsertIdentity('', 'dev-1', { mac: 'm1' }, 'accepted')
    const device = await get('dev-1')
    expect(scopeOf(device, 'identity')).toEqual({ mac: 'm1', status: 'accepted' })
    expect(scopeOf(device, 'inventory')).toEqual({ device_type: 'rpi4' })
    expectCountsConsistent(t)
  })

  test('setIdentityStatus mirrors status changes and moves the device between statuses', async () => {
    await addDevice(t, 'dev-1', {
      status: 'pending',
      inventory: { device_type: 'rpi4', ifaces: ['eth0', 'wlan0'] },
    })
    for (const status of ['accepted', 'rejected', 'pending', 'noauth', 'preauthorized']) {
      await t.services.inventory.setIdentityStatus('', 'dev-1', status)
      expect(scopeOf(await get('dev-1'), 'identity').status).toBe(status)
      const statuses = sqliteOf(t.deps)
        .$client.query(
          'SELECT DISTINCT status FROM inventory_attributes WHERE device = (SELECT seq FROM inventory_devices)',
        )
        .all()
      expect(statuses).toHaveLength(1)
      expectCountsConsistent(t)
    }
  })

  test('setIdentityStatus creates a device inventory does not know yet', async () => {
    await t.services.inventory.setIdentityStatus('', 'dev-2', 'accepted')
    expect(scopeOf(await get('dev-2'), 'identity')).toEqual({ status: 'accepted' })
  })

  test('an unknown status is a programming error, not data', async () => {
    await expect(t.services.inventory.setIdentityStatus('', 'dev-1', 'decommissioned')).rejects.toThrow()
    await expect(t.services.inventory.upsertIdentity('', 'dev-1', {}, '')).rejects.toThrow()
    await expect(get('dev-1')).rejects.toThrow('device not found')
  })

  test('removeDevice deletes the device, every attribute and its counts; unknown ids are fine', async () => {
    await addDevice(t, 'dev-1', { inventory: { device_type: 'rpi4', ifaces: ['eth0'] } })
    await addDevice(t, 'dev-2')
    await t.services.inventory.removeDevice('', 'dev-1')
    await t.services.inventory.removeDevice('', 'nope')
    await expect(get('dev-1')).rejects.toThrow('device not found')
    expect((await get('dev-2')).id).toBe('dev-2')
    const left = sqliteOf(t.deps)
      .$client.query('SELECT count(*) AS n FROM inventory_attributes WHERE device = 1')
      .get()
    expect(left).toEqual({ n: 0 })
    expectCountsConsistent(t)
  })

  test('tenants are separate', async () => {
    await addDevice(t, 'dev-1', { tenantId: 't1', identity: { mac: 'a' } })
    await addDevice(t, 'dev-1', { tenantId: 't2', identity: { mac: 'b' } })
    expect(scopeOf(await get('dev-1', 't1'), 'identity').mac).toBe('a')
    expect(scopeOf(await get('dev-1', 't2'), 'identity').mac).toBe('b')
    await expect(get('dev-1')).rejects.toThrow('device not found')
    await t.services.inventory.removeDevice('t1', 'dev-1')
    expect(scopeOf(await get('dev-1', 't2'), 'identity').mac).toBe('b')
  })
})

describe('for deployments', () => {
  test('listAcceptedDeviceIds: all accepted devices, or those of one group, oldest first', async () => {
    await addDevice(t, 'a1')
    await addDevice(t, 'p1', { status: 'pending' })
    await addDevice(t, 'a2')
    await addDevice(t, 'a3')
    await t.services.inventory.setGroup('', 'a3', 'prod')
    await t.services.inventory.setGroup('', 'a1', 'prod')
    await t.services.inventory.setGroup('', 'p1', 'prod')
    expect(await t.services.inventory.listAcceptedDeviceIds('')).toEqual(['a1', 'a2', 'a3'])
    expect(await t.services.inventory.listAcceptedDeviceIds('', 'prod')).toEqual(['a1', 'a3'])
    expect(await t.services.inventory.listAcceptedDeviceIds('', 'nope')).toEqual([])
    expect(await t.services.inventory.listAcceptedDeviceIds('other-tenant')).toEqual([])
  })

  test('writeCheckIns sets system/check_in_time, later batches overwriting it; unknown devices are skipped', async () => {
    await addDevice(t, 'dev-1')
    await addDevice(t, 'dev-2')
    const first = new Date('2025-01-01T10:00:00.000Z')
    const later = new Date('2025-01-01T10:00:30.000Z')
    await t.services.inventory.writeCheckIns([
      { tenantId: '', deviceId: 'dev-1', at: first },
      { tenantId: '', deviceId: 'unknown-device', at: first },
    ])
    expect(scopeOf(await get('dev-1'), 'system').check_in_time).toBe(first.toISOString())
    expect(scopeOf(await get('dev-2'), 'system').check_in_time).toBeUndefined()
    await expect(get('unknown-device')).rejects.toThrow('device not found')
    await t.services.inventory.writeCheckIns([{ tenantId: '', deviceId: 'dev-1', at: later }])
    expect(scopeOf(await get('dev-1'), 'system').check_in_time).toBe(later.toISOString())
    expectCountsConsistent(t)
  })
})
