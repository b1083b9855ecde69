import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { acceptedDevice } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { expectMenderError } from '../helpers/errors.ts'

const API = '/api/management/v1/iot-manager'
const hook = (url = 'http://127.0.0.1:9/hook', secret?: string) => ({
  provider: 'webhook',
  credentials: { type: 'http', http: { url, ...(secret ? { secret } : {}) } },
})

let t: TestApp
let admin: string

beforeEach(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterEach(() => t.close())

async function create(body: unknown = hook()) {
  const res = await t.call('POST', `${API}/integrations`, { token: admin, body })
  expect(res.status).toBe(201)
  return res.headers.get('location')!.split('/').pop()!
}

describe('integrations', () => {
  test('none: 200 []', async () => {
    const res = await t.call('GET', `${API}/integrations`, { token: admin })
    expect(res.status).toBe(200)
    expect(res.json).toEqual([])
  })

  test('create answers 201 with Location; get and list show it without its secret', async () => {
    const res = await t.call('POST', `${API}/integrations`, {
      token: admin,
      body: { ...hook('https://hooks.example.com/mender', 'c0ffee'), description: 'ops' },
    })
    expect(res.status).toBe(201)
    const location = res.headers.get('location')!
    expect(location).toMatch(/^\/api\/management\/v1\/iot-manager\/integrations\/[0-9a-f-]{36}$/)
    const id = location.split('/').pop()
    const expected = {
      id,
      provider: 'webhook',
      credentials: { type: 'http', http: { url: 'https://hooks.example.com/mender', secret: '<omitted>' } },
      description: 'ops',
      events: ['device-provisioned', 'device-decommissioned', 'device-status-changed'],
    }
    expect((await t.call('GET', location, { token: admin })).json).toEqual(expected)
    expect((await t.call('GET', `${API}/integrations`, { token: admin })).json).toEqual([expected])
    expect((await t.call('GET', `${API}/integrations?page=2`, { token: admin })).json).toEqual([])
  })

  test('a second integration is a conflict, as in Mender', async () => {
    await create()
    expectMenderError(
      await t.call('POST', `${API}/integrations`, { token: admin, body: hook() }),
      409,
      'already exists',
    )
  })

  test('Azure IoT Hub and AWS IoT Core are refused with a clear 400, and nothing is stored', async () => {
    const azure = {
      provider: 'iot-hub',
      credentials: { type: 'sas', connection_string: 'HostName=x;SharedAccessKey=y' },
    }
    const aws = {
      provider: 'iot-core',
      credentials: {
        type: 'aws',
        aws: { access_key_id: 'a', secret_access_key: 'b', region: 'eu', device_policy_name: 'p' },
      },
    }
    expectMenderError(
      await t.call('POST', `${API}/integrations`, { token: admin, body: azure }),
      400,
      'Azure IoT Hub is not supported',
    )
    expectMenderError(
      await t.call('POST', `${API}/integrations`, { token: admin, body: aws }),
      400,
      'AWS IoT Core is not supported',
    )
    const webhookWithSas = { provider: 'webhook', credentials: azure.credentials }
    expectMenderError(
      await t.call('POST', `${API}/integrations`, { token: admin, body: webhookWithSas }),
      400,
      'Azure',
    )
    expect((await t.call('GET', `${API}/integrations`, { token: admin })).json).toEqual([])
  })

  test('bad webhooks are 400', async () => {
    const bad: unknown[] = [
      hook('ftp://example.com/hook'),
      hook('file:///etc/passwd'),
      hook('not a url'),
      hook('http://user:pass@example.com/'),
      hook('http://example.com/', 'xyz'),
      hook('http://example.com/', 'abc'),
      hook('http://example.com/', 'ab'.repeat(33)),
      { provider: 'mqtt', credentials: { type: 'http', http: { url: 'http://x/' } } },
      { provider: 'webhook', credentials: { type: 'http' } },
      { provider: 'webhook' },
      { ...hook(), events: [] },
      { ...hook(), events: ['device-exploded'] },
      { ...hook(), description: 'd'.repeat(1025) },
    ]
    for (const body of bad)
      expectMenderError(await t.call('POST', `${API}/integrations`, { token: admin, body }), 400)
    expect((await t.call('GET', `${API}/integrations`, { token: admin })).json).toEqual([])
  })

  test('deployment events can be chosen', async () => {
    const id = await create({
      ...hook(),
      events: ['deployment-finished', 'device-status-changed', 'deployment-finished'],
    })
    const got = await t.call('GET', `${API}/integrations/${id}`, { token: admin })
    expect(got.json.events).toEqual(['deployment-finished', 'device-status-changed'])
  })

  test('credentials are replaced; unknown integrations are 404', async () => {
    const id = await create(hook('http://127.0.0.1:9/a', 'aa'))
    const put = await t.call('PUT', `${API}/integrations/${id}/credentials`, {
      token: admin,
      body: { type: 'http', http: { url: 'https://example.org/b' } },
    })
    expect(put.status).toBe(204)
    expect((await t.call('GET', `${API}/integrations/${id}`, { token: admin })).json.credentials).toEqual({
      type: 'http',
      http: { url: 'https://example.org/b' },
    })
    expectMenderError(
      await t.call('PUT', `${API}/integrations/${id}/credentials`, {
        token: admin,
        body: { type: 'http', http: { url: 'gopher://x' } },
      }),
      400,
    )
    expectMenderError(
      await t.call('PUT', `${API}/integrations/${id}/credentials`, {
        token: admin,
        body: { type: 'sas', connection_string: 'x' },
      }),
      400,
      'Azure',
    )
    const other = crypto.randomUUID()
    expectMenderError(
      await t.call('PUT', `${API}/integrations/${other}/credentials`, {
        token: admin,
        body: { type: 'http', http: { url: 'http://x/' } },
      }),
      404,
      'integration not found',
    )
    expectMenderError(await t.call('GET', `${API}/integrations/${other}`, { token: admin }), 404)
    expectMenderError(await t.call('DELETE', `${API}/integrations/${other}`, { token: admin }), 404)
    expect((await t.call('DELETE', `${API}/integrations/${id}`, { token: admin })).status).toBe(204)
    expect((await t.call('GET', `${API}/integrations`, { token: admin })).json).toEqual([])
  })

  test('every route needs a user token', async () => {
    const device = await acceptedDevice(t, admin)
    for (const [method, path] of [
      ['GET', '/integrations'],
      ['POST', '/integrations'],
      ['GET', `/integrations/${crypto.randomUUID()}`],
      ['GET', '/events'],
      ['GET', `/devices/${device.id}/state`],
    ] as const) {
      expectMenderError(
        await t.call(method, `${API}${path}`, { body: method === 'POST' ? hook() : undefined }),
        401,
      )
      expectMenderError(await t.call(method, `${API}${path}`, { token: device.token }), 401)
    }
  })
})

describe('events', () => {
  test('pages, filters by integration, and checks its query', async () => {
    expect((await t.call('GET', `${API}/events`, { token: admin })).json).toEqual([])
    expectMenderError(await t.call('GET', `${API}/events?integration_id=nope`, { token: admin }), 400)
    expectMenderError(await t.call('GET', `${API}/events?per_page=501`, { token: admin }), 400)
    expectMenderError(await t.call('GET', `${API}/events?page=0`, { token: admin }), 400)
    expect(
      (await t.call('GET', `${API}/events?integration_id=${crypto.randomUUID()}`, { token: admin })).json,
    ).toEqual([])
  })
})

describe('device state (a webhook-only server keeps none)', () => {
  test('a known device has no states; one integration state is 404; an unknown device is 404', async () => {
    const device = await acceptedDevice(t, admin)
    const id = await create()
    const states = await t.call('GET', `${API}/devices/${device.id}/state`, { token: admin })
    expect(states.status).toBe(200)
    expect(states.json).toEqual({})
    expectMenderError(
      await t.call('GET', `${API}/devices/${device.id}/state/${id}`, { token: admin }),
      404,
      'integration not found',
    )
    expectMenderError(
      await t.call('PUT', `${API}/devices/${device.id}/state/${id}`, {
        token: admin,
        body: { desired: { a: 1 } },
      }),
      404,
    )
    expectMenderError(
      await t.call('GET', `${API}/devices/${device.id}/state/not-a-uuid`, { token: admin }),
      400,
    )
    expectMenderError(
      await t.call('GET', `${API}/devices/${crypto.randomUUID()}/state`, { token: admin }),
      404,
      'device not found',
    )
    expect((await t.call('DELETE', `${API}/devices/${device.id}`, { token: admin })).status).toBe(204)
    expectMenderError(await t.call('DELETE', `${API}/devices/${crypto.randomUUID()}`, { token: admin }), 404)
  })

  test('health and alive answer 204', async () => {
    expect((await t.call('GET', '/api/internal/v1/iot-manager/health')).status).toBe(204)
    expect((await t.call('GET', '/api/internal/v1/iot-manager/alive')).status).toBe(204)
  })
})
