import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { addDevice, expectCountsConsistent, scopeOf } from './helpers.ts'

let t: TestApp
beforeEach(async () => {
  t = await createTestApp()
})
afterEach(() => t.close())

const get = (id: string, tenantId = '') => t.services.inventory.getDevice(tenantId, id).device

describe('identity API (called by deviceauth)', () => {
  test('upsertIdentity creates the device with its identity, status and created_ts', () => {
    t.services.inventory.upsertIdentity('', 'dev-1', { mac: '00:11:22:33:44:55', sku: 7 }, 'pending')
    const device = get('dev-1')
    expect(device.id).toBe('dev-1')
    expect(scopeOf(device, 'identity')).toEqual({ mac: '00:11:22:33:44:55', sku: 7, status: 'pending' })
    expect(scopeOf(device, 'system')).toEqual({ created_ts: t.clock.now().toISOString() })
    expect(device.updated_ts).toBeUndefined()
    expect(device.identities).toEqual(['00:11:22:33:44:55', 7, 'pending'])
    expectCountsConsistent(t)
  })

  test('a "status" key in id_data never overrides the status; odd values are kept as JSON text', () => {
    t.services.inventory.upsertIdentity(
      '',
      'dev-1',
      { status: 'hacked', flag: true, nested: { a: 1 }, none: null, mixed: [1, 'a'], list: ['x', 'y'] },
      'accepted',
    )
    expect(scopeOf(get('dev-1'), 'identity')).toEqual({
      status: 'accepted',
      flag: 'true',
      nested: '{"a":1}',
      none: 'null',
      mixed: '[1,"a"]',
      list: ['x', 'y'],
    })
  })

  test('upsertIdentity on a known device updates the status and keeps other attributes', () => {
    addDevice(t, 'dev-1', { status: 'pending', inventory: { device_type: 'rpi4' } })
    t.services.inventory.upsertIdentity('', 'dev-1', { mac: 'm1' }, 'accepted')
    const device = get('dev-1')
    expect(scopeOf(device, 'identity')).toEqual({ mac: 'm1', status: 'accepted' })
    expect(scopeOf(device, 'inventory')).toEqual({ device_type: 'rpi4' })
    expectCountsConsistent(t)
  })

  test('setIdentityStatus mirrors status changes and moves the device between statuses', () => {
    addDevice(t, 'dev-1', {
      status: 'pending',
      inventory: { device_type: 'rpi4', ifaces: ['eth0', 'wlan0'] },
    })
    for (const status of ['accepted', 'rejected', 'pending', 'noauth', 'preauthorized']) {
      t.services.inventory.setIdentityStatus('', 'dev-1', status)
      expect(scopeOf(get('dev-1'), 'identity').status).toBe(status)
      const statuses = t.deps.db.$client
        .query(
          'SELECT DISTINCT status FROM inventory_attributes WHERE device = (SELECT seq FROM inventory_devices)',
        )
        .all()
      expect(statuses).toHaveLength(1)
      expectCountsConsistent(t)
    }
  })

  test('setIdentityStatus creates a device inventory does not know yet', () => {
    t.services.inventory.setIdentityStatus('', 'dev-2', 'accepted')
    expect(scopeOf(get('dev-2'), 'identity')).toEqual({ status: 'accepted' })
  })

  test('an unknown status is a programming error, not data', () => {
    expect(() => t.services.inventory.setIdentityStatus('', 'dev-1', 'decommissioned')).toThrow()
    expect(() => t.services.inventory.upsertIdentity('', 'dev-1', {}, '')).toThrow()
    expect(() => get('dev-1')).toThrow('device not found')
  })

  test('removeDevice deletes the device, every attribute and its counts; unknown ids are fine', () => {
    addDevice(t, 'dev-1', { inventory: { device_type: 'rpi4', ifaces: ['eth0'] } })
    addDevice(t, 'dev-2')
    t.services.inventory.removeDevice('', 'dev-1')
    t.services.inventory.removeDevice('', 'nope')
    expect(() => get('dev-1')).toThrow('device not found')
    expect(get('dev-2').id).toBe('dev-2')
    const left = t.deps.db.$client
      .query('SELECT count(*) AS n FROM inventory_attributes WHERE device = 1')
      .get()
    expect(left).toEqual({ n: 0 })
    expectCountsConsistent(t)
  })

  test('tenants are separate', () => {
    addDevice(t, 'dev-1', { tenantId: 't1', identity: { mac: 'a' } })
    addDevice(t, 'dev-1', { tenantId: 't2', identity: { mac: 'b' } })
    expect(scopeOf(get('dev-1', 't1'), 'identity').mac).toBe('a')
    expect(scopeOf(get('dev-1', 't2'), 'identity').mac).toBe('b')
    expect(() => get('dev-1')).toThrow('device not found')
    t.services.inventory.removeDevice('t1', 'dev-1')
    expect(scopeOf(get('dev-1', 't2'), 'identity').mac).toBe('b')
  })

  test("works inside the caller's transaction, and a rollback leaves nothing behind", () => {
    const { db } = t.deps
    expect(() =>
      db.transaction(() => {
        t.services.inventory.upsertIdentity('', 'dev-1', { serial: 'S1', fresh_key: 'x' }, 'accepted')
        expect(scopeOf(get('dev-1'), 'identity').serial).toBe('S1')
        throw new Error('deviceauth changed its mind')
      }),
    ).toThrow('deviceauth changed its mind')
    expect(() => get('dev-1')).toThrow('device not found')
    const names = db.$client
      .query("SELECT count(*) AS n FROM inventory_attribute_names WHERE name = 'fresh_key'")
      .get()
    expect(names).toEqual({ n: 0 })
    // Names created in the rolled-back transaction must not linger in a cache: a new name takes
    // the freed id, and both devices still show their own names.
    t.services.inventory.upsertIdentity('', 'dev-2', { other_key: 'y' }, 'accepted')
    t.services.inventory.upsertIdentity('', 'dev-3', { serial: 'S3', fresh_key: 'z' }, 'accepted')
    expect(scopeOf(get('dev-2'), 'identity')).toEqual({ other_key: 'y', status: 'accepted' })
    expect(scopeOf(get('dev-3'), 'identity')).toEqual({ serial: 'S3', fresh_key: 'z', status: 'accepted' })
    db.transaction(() => {
      t.services.inventory.upsertIdentity('', 'dev-4', { serial: 'S4' }, 'pending')
    })
    expect(scopeOf(get('dev-4'), 'identity')).toEqual({ serial: 'S4', status: 'pending' })
    expectCountsConsistent(t)
  })
})

describe('for deployments', () => {
  test('listAcceptedDeviceIds: all accepted devices, or those of one group, oldest first', () => {
    addDevice(t, 'a1')
    addDevice(t, 'p1', { status: 'pending' })
    addDevice(t, 'a2')
    addDevice(t, 'a3')
    t.services.inventory.setGroup('', 'a3', 'prod')
    t.services.inventory.setGroup('', 'a1', 'prod')
    t.services.inventory.setGroup('', 'p1', 'prod')
    expect(t.services.inventory.listAcceptedDeviceIds('')).toEqual(['a1', 'a2', 'a3'])
    expect(t.services.inventory.listAcceptedDeviceIds('', 'prod')).toEqual(['a1', 'a3'])
    expect(t.services.inventory.listAcceptedDeviceIds('', 'nope')).toEqual([])
    expect(t.services.inventory.listAcceptedDeviceIds('other-tenant')).toEqual([])
  })

  test('writeCheckIns sets system/check_in_time, later batches overwriting it; unknown devices are skipped', () => {
    addDevice(t, 'dev-1')
    addDevice(t, 'dev-2')
    const first = new Date('2025-01-01T10:00:00.000Z')
    const later = new Date('2025-01-01T10:00:30.000Z')
    t.services.inventory.writeCheckIns([
      { tenantId: '', deviceId: 'dev-1', at: first },
      { tenantId: '', deviceId: 'unknown-device', at: first },
    ])
    expect(scopeOf(get('dev-1'), 'system').check_in_time).toBe(first.toISOString())
    expect(scopeOf(get('dev-2'), 'system').check_in_time).toBeUndefined()
    expect(() => get('unknown-device')).toThrow('device not found')
    t.services.inventory.writeCheckIns([{ tenantId: '', deviceId: 'dev-1', at: later }])
    expect(scopeOf(get('dev-1'), 'system').check_in_time).toBe(later.toISOString())
    expectCountsConsistent(t)
  })
})
