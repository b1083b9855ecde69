import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { authenticate, findDevice, TestDevice } from '../helpers/device.ts'

// Device keys (RSA among them) are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(30_000)

const MGMT = '/api/management/v2/devauth'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const get = (path: string) => t.call('GET', `${MGMT}${path}`, { token: admin })
const setStatus = (deviceId: string, authSetId: string, status: string) =>
  t.call('PUT', `${MGMT}/devices/${deviceId}/auth/${authSetId}/status`, { token: admin, body: { status } })

/** A device that authenticated once; its auth set then moved to `status` by the operator. */
async function deviceIn(
  status: 'pending' | 'accepted' | 'rejected' | 'preauthorized',
  app = t,
  token = admin,
) {
  const device = new TestDevice()
  if (status === 'preauthorized') {
    const res = await app.call('POST', `${MGMT}/devices`, {
      token,
      body: { identity_data: device.identity, pubkey: device.pubkey },
    })
    expect(res.status).toBe(201)
  } else {
    await authenticate(app, device)
  }
  const listed = await findDevice(app, token, device)
  const authSetId = listed.auth_sets[0].id as string
  if (status === 'accepted' || status === 'rejected') {
    const res = await app.call('PUT', `${MGMT}/devices/${listed.id}/auth/${authSetId}/status`, {
      token,
      body: { status },
    })
    expect(res.status).toBe(204)
  }
  return { device, id: listed.id as string, authSetId }
}

describe('every route needs a user token', () => {
  test.each([
    ['GET', '/devices'],
    ['POST', '/devices/search'],
    ['GET', '/devices/count'],
    ['GET', '/devices/x'],
    ['POST', '/devices'],
    ['DELETE', '/devices/x'],
    ['DELETE', '/devices/x/auth/y'],
    ['GET', '/devices/x/auth/y/status'],
    ['PUT', '/devices/x/auth/y/status'],
    ['DELETE', '/tokens/x'],
    ['GET', '/limits/max_devices'],
  ])('%s %s', async (method, path) => {
    // Bodies are valid: Elysia validates them before the auth macro runs.
    const bodies: Record<string, unknown> = {
      '/devices': { identity_data: { mac: 'x' }, pubkey: 'x' },
      '/devices/x/auth/y/status': { status: 'accepted' },
      '/devices/search': {},
    }
    const res = await t.call(method, `${MGMT}${path}`, { body: bodies[path] })
    expect(res.status).toBe(401)
  })
})

describe('list, search, count, get', () => {
  let ids: Record<string, string[]>
  let firstAccepted: TestDevice

  beforeAll(async () => {
    const app = await createTestApp()
    const token = (await loginAs(app)).token
    ids = { pending: [], accepted: [], rejected: [], preauthorized: [] }
    for (const status of [
      'pending',
      'accepted',
      'rejected',
      'preauthorized',
      'pending',
      'accepted',
    ] as const) {
      const { device, id } = await deviceIn(status, app, token)
      if (status === 'accepted') firstAccepted ??= device
      ids[status]!.push(id)
    }
    t.close()
    t = app
    admin = token
  })

  test('GET /devices sorts by status then id and pages with has-next links, no total', async () => {
    const all = await get('/devices')
    expect(all.status).toBe(200)
    expect(all.headers.get('x-total-count')).toBeNull()
    const order = ['accepted', 'pending', 'preauthorized', 'rejected'].flatMap((status) =>
      ids[status]!.toSorted(),
    )
    expect(all.json.map((d: any) => d.id)).toEqual(order)

    const page1 = await get('/devices?per_page=4')
    expect(page1.json.map((d: any) => d.id)).toEqual(order.slice(0, 4))
    expect(page1.headers.get('link')).toBe(
      `<${MGMT}/devices?page=1&per_page=4>; rel="first", <${MGMT}/devices?page=2&per_page=4>; rel="next"`,
    )
    const page2 = await get('/devices?per_page=4&page=2')
    expect(page2.json.map((d: any) => d.id)).toEqual(order.slice(4))
    expect(page2.headers.get('link')).toBe(
      `<${MGMT}/devices?page=1&per_page=4>; rel="first", <${MGMT}/devices?page=1&per_page=4>; rel="prev"`,
    )
    expect((await get('/devices?per_page=501')).status).toBe(400)
    expect((await get('/devices?page=0')).status).toBe(400)
  })

  test('GET /devices filters by repeated status and id', async () => {
    const byStatus = await get('/devices?status=pending&status=rejected')
    expect(byStatus.json.map((d: any) => d.id).toSorted()).toEqual(
      [...ids.pending!, ...ids.rejected!].toSorted(),
    )
    const byId = await get(`/devices?id=${ids.accepted![0]}&id=${ids.pending![1]}&status=accepted`)
    expect(byId.json.map((d: any) => d.id)).toEqual([ids.accepted![0]])
    const bad = await get('/devices?status=bogus')
    expect(bad.status).toBe(400)
    expect(bad.json.error).toBe('status must be one of: pending, accepted, rejected, preauthorized, noauth')
  })

  test('POST /devices/search takes a string or a list, as JSON or a form', async () => {
    const search = (body: unknown, headers?: Record<string, string>, query = '') =>
      t.call('POST', `${MGMT}/devices/search${query}`, {
        token: admin,
        ...(headers ? { raw: body as string, headers } : { body }),
      })
    const one = await search({ status: 'rejected' })
    expect(one.json.map((d: any) => d.id)).toEqual(ids.rejected)
    const many = await search({
      status: ['pending', 'preauthorized'],
      id: [...ids.pending!, ids.accepted![0]],
    })
    expect(many.json.map((d: any) => d.id).toSorted()).toEqual(ids.pending!.toSorted())
    const form = await search('status=preauthorized', { 'content-type': 'application/x-www-form-urlencoded' })
    expect(form.json.map((d: any) => d.id)).toEqual(ids.preauthorized)
    const paged = await search({ status: ['pending', 'accepted'] }, undefined, '?per_page=3')
    expect(paged.json).toHaveLength(3)
    expect(paged.headers.get('link')).toContain('rel="next"')
    expect((await search({ status: 'bogus' })).status).toBe(400)
    expect((await search({ status: 7 })).status).toBe(400)
    expect((await search(null)).json).toHaveLength(6)
  })

  test('GET /devices/count, in total and by status', async () => {
    expect((await get('/devices/count')).json).toEqual({ count: 6 })
    expect((await get('/devices/count?status=accepted')).json).toEqual({ count: 2 })
    expect((await get('/devices/count?status=noauth')).json).toEqual({ count: 0 })
    const bad = await get('/devices/count?status=gone')
    expect(bad.status).toBe(400)
  })

  test('GET /devices/{id} answers the Device with its auth sets; 404 otherwise', async () => {
    expect((await authenticate(t, firstAccepted)).status).toBe(200)
    const res = await get(`/devices/${ids.accepted![0]}`)
    expect(res.status).toBe(200)
    expect(Object.keys(res.json)).toEqual([
      'id',
      'identity_data',
      'status',
      'decommissioning',
      'created_ts',
      'updated_ts',
      'auth_sets',
      'check_in_time',
    ])
    expect(res.json).toMatchObject({ id: ids.accepted![0], status: 'accepted', decommissioning: false })
    expect(Object.keys(res.json.auth_sets[0])).toEqual(['id', 'identity_data', 'pubkey', 'ts', 'status'])
    expect(res.json.auth_sets[0].identity_data).toEqual(res.json.identity_data)
    const missing = await get('/devices/00000000-0000-4000-8000-000000000000')
    expect(missing.status).toBe(404)
    expect(missing.json.error).toBe('device not found')
  })
})

describe('preauthorize', () => {
  test('201 with a relative Location and an empty body; the device waits as preauthorized', async () => {
    const device = new TestDevice({ mac: '02:00:00:00:00:01', sku: 'board-a' })
    const res = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: device.pubkey },
    })
    expect(res.status).toBe(201)
    expect(res.text).toBe('')
    const id = res.headers.get('location')!.replace(/^devices\//, '')
    const found = await get(`/devices/${id}`)
    expect(found.json).toMatchObject({ status: 'preauthorized', identity_data: device.identity })
    expect(found.json.auth_sets).toEqual([
      expect.objectContaining({ status: 'preauthorized', pubkey: device.pubkey }),
    ])
  })

  test('a known identity is 409 with the existing device as the body; force adds the key', async () => {
    const { device, id } = await deviceIn('accepted')
    const other = new TestDevice(device.identity)
    const conflict = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: other.pubkey },
    })
    expect(conflict.status).toBe(409)
    expect(conflict.json).toMatchObject({ id, status: 'accepted', identity_data: device.identity })
    expect(conflict.json.error).toBeUndefined()

    const forced = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: other.pubkey, force: true },
    })
    expect(forced.status).toBe(201)
    expect(forced.headers.get('location')).toBe(`devices/${id}`)
    const after = (await get(`/devices/${id}`)).json
    expect(after.status).toBe('accepted')
    expect(after.auth_sets.map((set: any) => set.status)).toEqual(['accepted', 'preauthorized'])
    expect((await authenticate(t, other)).status).toBe(200)
  })

  test('force on the accepted key itself takes its token away until the device authenticates again', async () => {
    const { device, id } = await deviceIn('accepted')
    const token = (await authenticate(t, device)).text
    const res = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: device.pubkey, force: true },
    })
    expect(res.status).toBe(201)
    expect((await get(`/devices/${id}`)).json.status).toBe('preauthorized')
    expect((await t.call('POST', '/api/internal/v1/devauth/tokens/verify', { token })).status).toBe(401)
    expect((await authenticate(t, device)).status).toBe(200)
  })

  test.each([
    ['no identity', { pubkey: new TestDevice().pubkey }],
    ['an empty identity', { identity_data: {}, pubkey: new TestDevice().pubkey }],
    ['no key', { identity_data: { mac: 'x' } }],
    ['an empty key', { identity_data: { mac: 'x' }, pubkey: '' }],
    ['a bad key', { identity_data: { mac: 'x' }, pubkey: 'not a key' }],
    ['an identity that is not an object', { identity_data: 'mac=x', pubkey: new TestDevice().pubkey }],
  ])('%s is 400', async (_name, body) => {
    const before = (await get('/devices/count')).json.count
    const res = await t.call('POST', `${MGMT}/devices`, { token: admin, body })
    expect(res.status).toBe(400)
    expect((await get('/devices/count')).json.count).toBe(before)
  })
})

describe('auth set status', () => {
  const transitions: [string, string, number, string | null][] = [
    ['pending', 'accepted', 204, 'accepted'],
    ['pending', 'rejected', 204, 'rejected'],
    ['pending', 'pending', 204, 'pending'],
    ['accepted', 'rejected', 204, 'rejected'],
    ['accepted', 'pending', 204, 'pending'],
    ['accepted', 'accepted', 204, 'accepted'],
    ['rejected', 'accepted', 204, 'accepted'],
    ['rejected', 'pending', 204, 'pending'],
    ['rejected', 'rejected', 204, 'rejected'],
    ['preauthorized', 'accepted', 400, 'preauthorized'],
    ['preauthorized', 'rejected', 400, 'preauthorized'],
    ['preauthorized', 'pending', 400, 'preauthorized'],
    ['pending', 'preauthorized', 400, 'pending'],
    ['accepted', 'noauth', 400, 'accepted'],
    ['pending', 'bogus', 400, 'pending'],
  ]

  test.each(transitions)('%s -> %s: %i', async (from, to, code, deviceStatus) => {
    const { id, authSetId } = await deviceIn(from as 'pending')
    const res = await setStatus(id, authSetId, to)
    expect(res.status).toBe(code)
    if (code === 400) {
      expect(res.json.error).toBe(
        ['accepted', 'rejected', 'pending'].includes(to)
          ? 'dev auth: bad request'
          : 'incorrect device status',
      )
    }
    expect((await get(`/devices/${id}/auth/${authSetId}/status`)).json).toEqual({ status: deviceStatus })
    expect((await get(`/devices/${id}`)).json.status).toBe(deviceStatus)
  })

  test('an auth set of another device is 400; an unknown one 404', async () => {
    const a = await deviceIn('pending')
    const b = await deviceIn('pending')
    const mismatch = await setStatus(a.id, b.authSetId, 'accepted')
    expect(mismatch.status).toBe(400)
    expect(mismatch.json.error).toBe('dev auth: dev ID and auth ID mismatch')
    expect((await setStatus(a.id, 'nope', 'accepted')).status).toBe(404)
    expect((await get(`/devices/${a.id}/auth/nope/status`)).status).toBe(404)
    expect((await get(`/devices/${a.id}/auth/${b.authSetId}/status`)).status).toBe(404)
    expect(
      (await t.call('PUT', `${MGMT}/devices/${a.id}/auth/${a.authSetId}/status`, { token: admin, body: {} }))
        .status,
    ).toBe(400)
  })
})

describe('delete an auth set', () => {
  test('the accepted one: the device falls back to its other auth sets, or noauth, and stays', async () => {
    const { device, id, authSetId } = await deviceIn('accepted')
    device.rotateKey()
    await authenticate(t, device)
    expect((await t.call('DELETE', `${MGMT}/devices/${id}/auth/${authSetId}`, { token: admin })).status).toBe(
      204,
    )
    const after = (await get(`/devices/${id}`)).json
    expect(after.status).toBe('pending')
    expect(after.auth_sets).toHaveLength(1)
    await t.call('DELETE', `${MGMT}/devices/${id}/auth/${after.auth_sets[0].id}`, { token: admin })
    const empty = (await get(`/devices/${id}`)).json
    expect(empty.status).toBe('noauth')
    expect(empty.auth_sets).toEqual([])
    expect((await authenticate(t, device)).status).toBe(401)
    expect((await get(`/devices/${id}`)).json.status).toBe('pending')
  })

  test('the last, preauthorized one: the device goes too', async () => {
    const { id, authSetId } = await deviceIn('preauthorized')
    expect((await t.call('DELETE', `${MGMT}/devices/${id}/auth/${authSetId}`, { token: admin })).status).toBe(
      204,
    )
    expect((await get(`/devices/${id}`)).status).toBe(404)
  })

  test('unknown, or of another device: 404', async () => {
    const a = await deviceIn('pending')
    const b = await deviceIn('pending')
    expect(
      (await t.call('DELETE', `${MGMT}/devices/${a.id}/auth/${b.authSetId}`, { token: admin })).status,
    ).toBe(404)
    expect((await t.call('DELETE', `${MGMT}/devices/${a.id}/auth/nope`, { token: admin })).status).toBe(404)
    expect((await get(`/devices/${b.id}`)).json.auth_sets).toHaveLength(1)
  })
})

describe('decommission', () => {
  test('removes the device and its auth sets; the identity then starts over as a new device', async () => {
    const { device, id } = await deviceIn('accepted')
    expect((await t.call('DELETE', `${MGMT}/devices/${id}`, { token: admin })).status).toBe(204)
    expect((await get(`/devices/${id}`)).status).toBe(404)
    expect(await t.count('deviceauth_auth_sets', 'device_id = ?', id)).toBe(0)
    expect((await authenticate(t, device)).status).toBe(401)
    const again = await findDevice(t, admin, device)
    expect(again.id).not.toBe(id)
    expect(again.status).toBe('pending')
    expect((await t.call('DELETE', `${MGMT}/devices/${id}`, { token: admin })).status).toBe(404)
  })
})

describe('device limit', () => {
  test('GET /limits/max_devices answers the configured limit (0: none); other limits are 400', async () => {
    expect((await get('/limits/max_devices')).json).toEqual({ limit: 0 })
    const other = await get('/limits/max_users')
    expect(other.status).toBe(400)
    expect(other.json.error).toBe('unsupported limit max_users')
  })

  test('accepting beyond BENDER_MAX_DEVICES is 422; an accepted device may still switch keys', async () => {
    const app = await createTestApp({ BENDER_MAX_DEVICES: '2' })
    try {
      const token = (await loginAs(app)).token
      expect((await app.call('GET', `${MGMT}/limits/max_devices`, { token })).json).toEqual({ limit: 2 })
      const first = await deviceIn('accepted', app, token)
      await deviceIn('accepted', app, token)
      const third = await deviceIn('pending', app, token)
      const refused = await app.call('PUT', `${MGMT}/devices/${third.id}/auth/${third.authSetId}/status`, {
        token,
        body: { status: 'accepted' },
      })
      expect(refused.status).toBe(422)
      expect(refused.json.error).toBe('maximum number of accepted devices reached')
      first.device.rotateKey()
      await authenticate(app, first.device)
      const rotated = (await findDevice(app, token, first.device)).auth_sets[1].id
      const switched = await app.call('PUT', `${MGMT}/devices/${first.id}/auth/${rotated}/status`, {
        token,
        body: { status: 'accepted' },
      })
      expect(switched.status).toBe(204)
    } finally {
      await app.close()
    }
  })
})
