import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { addDevice, expectCountsConsistent, scopeOf } from './helpers.ts'

let t: TestApp
beforeEach(async () => {
  t = await createTestApp()
})
afterEach(() => t.close())

const ATTRIBUTES = '/api/devices/v1/inventory/device/attributes'
const inventory = () => t.services.inventory
const get = async (id: string) => (await inventory().getDevice('', id)).device
const report = (id: string, body: unknown, mode: 'replace' | 'merge') =>
  inventory().updateInventory('', id, body, mode)

describe('device inventory reports (PUT replaces, PATCH merges)', () => {
  test('PUT makes the inventory scope exactly the body and leaves other scopes alone', async () => {
    await addDevice(t, 'dev-1', { inventory: { device_type: 'rpi4', kernel: '5.10', ifaces: ['eth0'] } })
    await report(
      'dev-1',
      [
        { name: 'device_type', value: 'rpi4' },
        { name: 'artifact_name', value: 'v2' },
      ],
      'replace',
    )
    const device = await get('dev-1')
    expect(scopeOf(device, 'inventory')).toEqual({ device_type: 'rpi4', artifact_name: 'v2' })
    expect(scopeOf(device, 'identity')).toEqual({ mac: 'mac-dev-1', status: 'accepted' })
    expect(Object.keys(scopeOf(device, 'system')).sort()).toEqual(['created_ts', 'updated_ts'])
    await expectCountsConsistent(t)
  })

  test('PATCH upserts the listed attributes and keeps the rest', async () => {
    await addDevice(t, 'dev-1', { inventory: { device_type: 'rpi4', kernel: '5.10' } })
    await report(
      'dev-1',
      [
        { name: 'kernel', value: '6.1' },
        { name: 'mem_total_kB', value: 1024 },
      ],
      'merge',
    )
    expect(scopeOf(await get('dev-1'), 'inventory')).toEqual({
      device_type: 'rpi4',
      kernel: '6.1',
      mem_total_kB: 1024,
    })
  })

  test('values keep their JSON types, descriptions are kept, the last of a repeated name wins', async () => {
    await report(
      'dev-1',
      [
        { name: 'n', value: 1.5 },
        { name: 'int', value: 42 },
        { name: 's', value: '42' },
        { name: 'strings', value: ['b', 'a', 'b'] },
        { name: 'numbers', value: [3, 1, 2] },
        { name: 'empty', value: [] },
        { name: 'described', value: 'x', description: 'what it is' },
        { name: 'twice', value: 'first' },
        { name: 'twice', value: 'second' },
      ],
      'replace',
    )
    const device = await get('dev-1')
    expect(scopeOf(device, 'inventory')).toEqual({
      n: 1.5,
      int: 42,
      s: '42',
      strings: ['b', 'a', 'b'],
      numbers: [3, 1, 2],
      empty: [],
      described: 'x',
      twice: 'second',
    })
    expect(device.attributes.find((a) => a.name === 'described')?.description).toBe('what it is')
    await expectCountsConsistent(t)
  })

  test('both create a device inventory does not know yet, with created_ts and updated_ts', async () => {
    await report('new-1', [{ name: 'device_type', value: 'x' }], 'merge')
    await report('new-2', [{ name: 'device_type', value: 'y' }], 'replace')
    for (const id of ['new-1', 'new-2']) {
      const device = await get(id)
      expect(device.updated_ts).toBe(t.clock.now().toISOString())
      expect(scopeOf(device, 'system').created_ts).toBe(t.clock.now().toISOString())
    }
  })

  test('updated_ts moves on a change, and at least daily, but an unchanged report the same day writes nothing', async () => {
    const body = [{ name: 'device_type', value: 'rpi4' }]
    await report('dev-1', body, 'replace')
    const first = (await get('dev-1')).updated_ts
    t.clock.advance(60)
    await report('dev-1', body, 'replace')
    await report('dev-1', body, 'merge')
    expect((await get('dev-1')).updated_ts).toBe(first!)
    t.clock.advance(60)
    await report('dev-1', [{ name: 'device_type', value: 'rpi5' }], 'merge')
    const changed = (await get('dev-1')).updated_ts!
    expect(changed > first!).toBe(true)
    t.clock.advance(86400)
    await report('dev-1', [{ name: 'device_type', value: 'rpi5' }], 'merge')
    expect((await get('dev-1')).updated_ts! > changed).toBe(true)
  })

  test('PUT with a removed attribute is a change', async () => {
    await report(
      'dev-1',
      [
        { name: 'a', value: '1' },
        { name: 'b', value: '2' },
      ],
      'replace',
    )
    const first = (await get('dev-1')).updated_ts!
    t.clock.advance(1)
    await report('dev-1', [{ name: 'a', value: '1' }], 'replace')
    expect((await get('dev-1')).updated_ts! > first).toBe(true)
    expect(scopeOf(await get('dev-1'), 'inventory')).toEqual({ a: '1' })
  })

  test.each([
    ['null', null, 'supported types are string, float64, and arrays thereof'],
    ['a boolean', true, 'supported types are string, float64, and arrays thereof'],
    ['an object', { a: 1 }, 'supported types are string, float64, and arrays thereof'],
    ['an array of booleans', [true], 'supported types are string, float64, and arrays thereof'],
    ['an array of arrays', [['a']], 'supported types are string, float64, and arrays thereof'],
    ['a mixed array', ['a', 1], 'array values must all be strings or all be numbers'],
  ])('a value that is %s is refused and nothing is stored', async (_, value, message) => {
    await addDevice(t, 'dev-1', { inventory: { keep: 'me' } })
    const before = await get('dev-1')
    for (const mode of ['replace', 'merge'] as const) {
      expect(() =>
        report(
          'dev-1',
          [
            { name: 'ok', value: 'fine' },
            { name: 'bad', value },
          ],
          mode,
        ),
      ).toThrow(message)
      expect(
        async () =>
          await report(
            'unknown',
            [
              { name: 'ok', value: 'fine' },
              { name: 'bad', value },
            ],
            mode,
          ),
      ).toThrow(message)
    }
    expect(await get('dev-1')).toEqual(before)
    await expect(get('unknown')).rejects.toThrow('device not found')
  })

  test("names must be 1 to 1024 characters (the routes' schema); the body must be an array of attributes", async () => {
    // The name's bounds are the schema's, shared by the device routes and the tags route.
    await addDevice(t, 'dev-1')
    const { token } = await loginAs(t)
    const tags = (body: unknown) =>
      t.call('PUT', '/api/management/v1/inventory/devices/dev-1/tags', { token, body })
    for (const body of [
      [{ name: '', value: 'x' }],
      [{ name: 'n'.repeat(1025), value: 'x' }],
      [{ value: 'x' }],
    ]) {
      const res = await tags(body)
      expect(res.status).toBe(400)
      expect(res.json.error).toBe('attribute name must be 1 to 1024 characters')
    }
    expect((await tags([{ name: 'n'.repeat(1024), value: 'x' }])).status).toBe(200)
    await report('dev-1', [{ name: 'n'.repeat(1024), value: 'x' }], 'merge')
    expect(() => report('dev-2', { name: 'a', value: 'x' }, 'merge')).toThrow('expected a JSON array')
    expect(() => report('dev-2', ['a'], 'merge')).toThrow('expected an array of attributes')
    expect(() => report('dev-2', [{ name: 'a', value: 'x', description: 5 }], 'merge')).toThrow('description')
    await expect(get('dev-2')).rejects.toThrow('device not found')
  })

  test('at most 100 inventory attributes: PUT counts the body, PATCH what the device would have', async () => {
    const attrs = (n: number, prefix = 'a') =>
      Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, value: i }))
    expect(() => report('dev-1', attrs(101), 'replace')).toThrow('at most 100')
    await expect(get('dev-1')).rejects.toThrow('device not found')
    await report('dev-1', attrs(100), 'replace')
    await report('dev-1', attrs(100), 'merge')
    expect(() => report('dev-1', attrs(1, 'b'), 'merge')).toThrow('at most 100')
    expect(Object.keys(scopeOf(await get('dev-1'), 'inventory'))).toHaveLength(100)
    await report('dev-1', attrs(3, 'b'), 'replace')
    await report('dev-1', attrs(97), 'merge')
    expect(Object.keys(scopeOf(await get('dev-1'), 'inventory'))).toHaveLength(100)
    await expectCountsConsistent(t)
  })
})

describe('device routes', () => {
  for (const method of ['PUT', 'PATCH']) {
    test(`${method} needs a device token: 401 with Mender's error body`, async () => {
      for (const token of [undefined, 'not-a-jwt']) {
        const res = await t.call(method, ATTRIBUTES, {
          token,
          body: [{ name: 'a', value: 'b' }],
          headers: { 'x-men-requestid': 'rid-7' },
        })
        expect(res.status).toBe(401)
        expect(res.json).toEqual({ error: 'unauthorized', request_id: 'rid-7' })
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="DeviceJWT"')
      }
    })
  }

  test('a user token is not a device token', async () => {
    const { token } = await loginAs(t)
    const res = await t.call('PUT', ATTRIBUTES, { token, body: [] })
    expect(res.status).toBe(401)
  })

  test('chunked JSON bodies (as the Go client sends them) are read', async () => {
    // The device routes need a device token; the tags route reads bodies the same way.
    const { token } = await loginAs(t)
    await addDevice(t, 'dev-1')
    const chunks = ['[{"name":"loca', 'tion","value":"oslo"}]']
    const raw = new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk))
        controller.close()
      },
    })
    const res = await t.call('PUT', '/api/management/v1/inventory/devices/dev-1/tags', {
      token,
      raw,
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    })
    expect(res.status).toBe(200)
    expect(scopeOf(await get('dev-1'), 'tags')).toEqual({ location: 'oslo' })
  })
})
