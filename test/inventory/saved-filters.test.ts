import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { acceptedDevice } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const FILTERS = '/api/management/v2/inventory/filters'
const DEVICE_ATTRIBUTES = '/api/devices/v1/inventory/device/attributes'

let t: TestApp
let admin: string

beforeEach(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterEach(() => t.close())

const call = (method: string, path: string, body?: unknown) => t.call(method, path, { token: admin, body })
const debian = [{ scope: 'inventory', attribute: 'os', type: '$eq', value: 'debian' }]

describe('saved filters', () => {
  test('created (Location, 409 for a taken name), got, listed with paging headers, replaced, deleted', async () => {
    const made = await call('POST', FILTERS, { name: 'debian', terms: debian })
    expect(made.status).toBe(201)
    const id = made.headers.get('location')!.split('/').pop()!
    expect(made.headers.get('location')).toBe(`${FILTERS}/${id}`)
    expect((await call('POST', FILTERS, { name: 'debian', terms: debian })).status).toBe(409)
    expect((await call('GET', `${FILTERS}/${id}`)).json).toEqual({ id, name: 'debian', terms: debian })
    await call('POST', FILTERS, { name: 'alpine', terms: [{ ...debian[0], value: 'alpine' }] })

    const page = await call('GET', `${FILTERS}?per_page=1`)
    expect(page.json.map((f: any) => f.name)).toEqual(['alpine'])
    expect(page.headers.get('x-total-count')).toBe('2')
    expect(page.headers.get('link')).toContain('rel="next"')

    const terms = [{ scope: 'inventory', attribute: 'os', type: '$in', value: ['debian', 'ubuntu'] }]
    expect((await call('PUT', `${FILTERS}/${id}`, { name: 'apt', terms })).status).toBe(204)
    expect((await call('GET', `${FILTERS}/${id}`)).json).toEqual({ id, name: 'apt', terms })
    expect((await call('PUT', `${FILTERS}/${id}`, { name: 'alpine', terms })).status).toBe(409)
    expect((await call('DELETE', `${FILTERS}/${id}`)).status).toBe(204)
    expect((await call('GET', `${FILTERS}/${id}`)).status).toBe(404)
    expect((await call('DELETE', `${FILTERS}/${id}`)).status).toBe(404)
    expect((await call('PUT', `${FILTERS}/${id}`, { name: 'x', terms })).status).toBe(404)
  })

  test('400 for bad terms, naming the term; nothing is saved', async () => {
    for (const terms of [
      [],
      [{ scope: 'nowhere', attribute: 'os', type: '$eq', value: 'x' }],
      [{ scope: 'inventory', attribute: 'os', type: '$like', value: 'x' }],
    ]) {
      const res = await call('POST', FILTERS, { name: 'bad', terms })
      expect(res.status).toBe(400)
      expect(res.json.error).toBeString()
    }
    expect((await call('POST', FILTERS, { name: '', terms: debian })).status).toBe(400)
    expect((await call('GET', FILTERS)).json).toEqual([])
  })

  test('/search pages the devices the filter matches now', async () => {
    const devices = []
    for (const os of ['debian', 'alpine', 'debian']) {
      const device = await acceptedDevice(t, admin)
      const res = await t.call('PATCH', DEVICE_ATTRIBUTES, {
        token: device.token,
        body: [{ name: 'os', value: os }],
      })
      expect(res.status).toBe(200)
      devices.push(device)
    }
    const id = (await call('POST', FILTERS, { name: 'debian', terms: debian })).headers
      .get('location')!
      .split('/')
      .pop()!
    const found = await call('GET', `${FILTERS}/${id}/search?per_page=1`)
    expect(found.status).toBe(200)
    expect(found.headers.get('x-total-count')).toBe('2')
    expect(found.json).toHaveLength(1)
    const all = await call('GET', `${FILTERS}/${id}/search`)
    expect(new Set(all.json.map((d: any) => d.id))).toEqual(new Set([devices[0]!.id, devices[2]!.id]))
    expect((await call('GET', `${FILTERS}/nope/search`)).status).toBe(404)
  })
})
