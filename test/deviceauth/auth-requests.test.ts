import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { AUTH_REQUESTS, authenticate, findDevice, TestDevice } from '../helpers/device.ts'

// Device keys (RSA among them) are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(30_000)

const MGMT = '/api/management/v2/devauth'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp({ BENDER_DEVICE_TOKEN_TTL: '3600' })
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const decode = (token: string) =>
  token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()))

/** Rows in each deviceauth table: a refused request must leave all three unchanged. */
const rowCounts = () =>
  Promise.all(
    ['deviceauth_devices', 'deviceauth_auth_sets', 'deviceauth_tokens'].map((table) => t.count(table)),
  )

async function setStatus(deviceId: string, authSetId: string, status: string) {
  const res = await t.call('PUT', `${MGMT}/devices/${deviceId}/auth/${authSetId}/status`, {
    token: admin,
    body: { status },
  })
  expect(res.status).toBe(204)
}

/** Authenticates once (the device shows up pending), then accepts its auth set. */
async function acceptedDevice(device = new TestDevice()) {
  expect((await authenticate(t, device)).status).toBe(401)
  const listed = await findDevice(t, admin, device)
  await setStatus(listed.id, listed.auth_sets[0].id, 'accepted')
  return { device, id: listed.id as string, authSetId: listed.auth_sets[0].id as string }
}

describe('a new device', () => {
  test('is refused with 401 and recorded as pending, its key in canonical PEM', async () => {
    const device = new TestDevice({ sn: 'SN-1', mac: '00:11:22:33:44:55' })
    const res = await authenticate(t, device)
    expect(res.status).toBe(401)
    expect(res.json.error).toBe('dev auth: unauthorized')
    const listed = await findDevice(t, admin, device)
    expect(listed.status).toBe('pending')
    expect(listed.identity_data).toEqual({ mac: '00:11:22:33:44:55', sn: 'SN-1' })
    expect(listed.auth_sets).toHaveLength(1)
    expect(listed.auth_sets[0]).toMatchObject({ status: 'pending', pubkey: device.pubkey })
    expect((await authenticate(t, device)).status).toBe(401)
    expect((await findDevice(t, admin, device)).auth_sets).toHaveLength(1)
  })

  test('the same identity written differently is the same device', async () => {
    const device = new TestDevice({ b: 1, a: 'x' })
    await authenticate(t, device)
    const body = `${JSON.stringify({ id_data: '{ "a" : "x", "b" : 1.0 }', pubkey: device.pubkey })}\n`
    const res = await t.call('POST', AUTH_REQUESTS, { raw: body, headers: device.authHeaders(body) })
    expect(res.status).toBe(401)
    const listed = await findDevice(t, admin, device)
    expect(listed.auth_sets).toHaveLength(1)
  })
})

describe('an accepted device', () => {
  test('gets a raw application/jwt token with Mender device claims', async () => {
    const { device, id, authSetId } = await acceptedDevice()
    const res = await authenticate(t, device)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/jwt')
    expect(res.text).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const [header, claims] = decode(res.text)
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' })
    expect(Object.keys(claims)).toEqual([
      'jti',
      'sub',
      'iss',
      'exp',
      'iat',
      'nbf',
      'mender.device',
      'mender.plan',
      'mender.trial',
      'mender.addons',
    ])
    expect(claims).toMatchObject({
      jti: authSetId,
      sub: id,
      iss: 'Mender',
      nbf: -62135596800,
      'mender.device': true,
      'mender.plan': 'enterprise',
      'mender.trial': false,
    })
    expect(claims['mender.addons']).toEqual([
      { name: 'configure', enabled: true },
      { name: 'troubleshoot', enabled: true },
      { name: 'monitor', enabled: true },
    ])
    expect(claims.exp - claims.iat).toBe(3600)
    expect(Math.abs(claims.iat - t.clock.now().getTime() / 1000)).toBeLessThan(2)
  })

  test('keeps one token row per auth set however often it authenticates', async () => {
    const { device, authSetId } = await acceptedDevice()
    for (let i = 0; i < 3; i++) expect((await authenticate(t, device)).status).toBe(200)
    expect(await t.count('deviceauth_tokens', 'id = ?', authSetId)).toBe(1)
  })

  test('once rejected, is refused again', async () => {
    const { device, id, authSetId } = await acceptedDevice()
    await setStatus(id, authSetId, 'rejected')
    const res = await authenticate(t, device)
    expect(res.status).toBe(401)
    expect(res.json.error).toBe('dev auth: unauthorized')
  })

  test('with an ECDSA or Ed25519 key authenticates the same way', async () => {
    for (const keyType of ['P-256', 'P-384', 'P-521', 'ed25519'] as const) {
      const { device } = await acceptedDevice(new TestDevice(undefined, keyType))
      const res = await authenticate(t, device)
      expect(res.status).toBe(200)
    }
  })
})

describe('key rotation', () => {
  test('a new key adds a pending auth set; accepting it rejects the old one', async () => {
    const { device, id, authSetId: oldSet } = await acceptedDevice()
    const oldDevice = Object.assign(new TestDevice(device.identity), { keys: device.keys })
    device.rotateKey('ed25519')
    expect((await authenticate(t, device)).status).toBe(401)
    let listed = await findDevice(t, admin, device)
    expect(listed.status).toBe('accepted')
    expect(listed.auth_sets.map((set: any) => set.status)).toEqual(['accepted', 'pending'])
    expect((await authenticate(t, oldDevice)).status).toBe(200)

    const newSet = listed.auth_sets[1].id
    await setStatus(id, newSet, 'accepted')
    listed = await findDevice(t, admin, device)
    expect(listed.status).toBe('accepted')
    expect(Object.fromEntries(listed.auth_sets.map((set: any) => [set.id, set.status]))).toEqual({
      [oldSet]: 'rejected',
      [newSet]: 'accepted',
    })
    expect((await authenticate(t, oldDevice)).status).toBe(401)
    expect((await authenticate(t, device)).status).toBe(200)
  })
})

describe('a preauthorized device', () => {
  test('with the matching key is accepted and gets a token at once', async () => {
    const device = new TestDevice({ mac: 'aa:bb:cc:00:00:01', sku: 'unit' })
    const pre = await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: device.pubkey },
    })
    expect(pre.status).toBe(201)
    const res = await authenticate(t, device)
    expect(res.status).toBe(200)
    const listed = await findDevice(t, admin, device)
    expect(listed.status).toBe('accepted')
    expect(listed.auth_sets[0].status).toBe('accepted')
    expect(decode(res.text)[1].jti).toBe(listed.auth_sets[0].id)
  })

  test('with another key adds a pending auth set and stays preauthorized', async () => {
    const device = new TestDevice({ mac: 'aa:bb:cc:00:00:02' })
    const preauthorizedKey = new TestDevice(device.identity).pubkey
    await t.call('POST', `${MGMT}/devices`, {
      token: admin,
      body: { identity_data: device.identity, pubkey: preauthorizedKey },
    })
    expect((await authenticate(t, device)).status).toBe(401)
    const listed = await findDevice(t, admin, device)
    expect(listed.status).toBe('preauthorized')
    expect(listed.auth_sets.map((set: any) => set.status)).toEqual(['preauthorized', 'pending'])
  })
})

describe('the device limit', () => {
  test('refuses a preauthorized device with 401 while the limit is reached, changing nothing', async () => {
    const limited = await createTestApp({ BENDER_MAX_DEVICES: '1' })
    try {
      const token = (await loginAs(limited)).token
      const first = new TestDevice()
      await authenticate(limited, first)
      const listed = await findDevice(limited, token, first)
      await limited.call('PUT', `${MGMT}/devices/${listed.id}/auth/${listed.auth_sets[0].id}/status`, {
        token,
        body: { status: 'accepted' },
      })
      const second = new TestDevice()
      await limited.call('POST', `${MGMT}/devices`, {
        token,
        body: { identity_data: second.identity, pubkey: second.pubkey },
      })
      const res = await authenticate(limited, second)
      expect(res.status).toBe(401)
      expect(res.json.error).toBe('unauthorized')
      expect((await findDevice(limited, token, second)).status).toBe('preauthorized')
      expect((await authenticate(limited, first)).status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})

describe('refused auth requests, in check order, store nothing', () => {
  const device = new TestDevice({ mac: 'de:ad:be:ef:00:01' })
  const pubkey = device.pubkey
  const body = (fields: Record<string, unknown>) => `${JSON.stringify(fields)}\n`
  const cases: [string, string, Record<string, string> | undefined, number, string | RegExp][] = [
    ['invalid JSON', '{"id_data":', undefined, 400, /^failed to decode auth request: /],
    ['an empty body', '', undefined, 400, /^failed to decode auth request: /],
    ['a JSON array', '[]\n', undefined, 400, /^failed to decode auth request: /],
    [
      'id_data that is not a string',
      body({ id_data: { mac: 'x' }, pubkey }),
      undefined,
      400,
      /^failed to decode auth request: /,
    ],
    [
      'no id_data (nor pubkey)',
      body({ tenant_token: '' }),
      undefined,
      400,
      'invalid auth request: id_data must be provided',
    ],
    [
      'no pubkey',
      body({ id_data: '{"mac":"x"}' }),
      undefined,
      400,
      'invalid auth request: pubkey must be provided',
    ],
    [
      'a pubkey that is not PEM (id_data bad too)',
      body({ id_data: '[1]', pubkey: 'ssh-rsa AAAA' }),
      undefined,
      400,
      'invalid auth request: cannot decode public key',
    ],
    [
      'id_data that is not a JSON object',
      body({ id_data: '["mac"]', pubkey }),
      undefined,
      400,
      'invalid auth request: identity data must be a JSON object',
    ],
    [
      'no signature header',
      body({ id_data: '{"mac":"x"}', pubkey }),
      { 'content-type': 'application/json' },
      400,
      'missing request signature header',
    ],
  ]

  test.each(cases)('%s', async (_name, raw, headers, status, message) => {
    const before = await rowCounts()
    const res = await t.call('POST', AUTH_REQUESTS, {
      raw,
      headers: headers ?? { 'content-type': 'application/json', 'x-men-signature': device.sign(raw) },
    })
    expect(res.status).toBe(status)
    if (typeof message === 'string') expect(res.json.error).toBe(message)
    else expect(res.json.error).toMatch(message)
    expect(await rowCounts()).toEqual(before)
  })

  test('a bad signature is 401: another key, the body without its newline, garbage', async () => {
    const raw = device.authRequestBody()
    const before = await rowCounts()
    for (const signature of [new TestDevice().sign(raw), device.sign(raw.trimEnd()), 'not base64!']) {
      const res = await t.call('POST', AUTH_REQUESTS, {
        raw,
        headers: { 'content-type': 'application/json', 'x-men-signature': signature },
      })
      expect(res.status).toBe(401)
      expect(res.json.error).toBe('signature verification failed')
    }
    expect(await rowCounts()).toEqual(before)
  })

  test('a forged request for an accepted device (its public key, another signer) gets no token', async () => {
    const { device: victim } = await acceptedDevice()
    const raw = victim.authRequestBody()
    const before = await rowCounts()
    const res = await t.call('POST', AUTH_REQUESTS, {
      raw,
      headers: { 'content-type': 'application/json', 'x-men-signature': new TestDevice().sign(raw) },
    })
    expect(res.status).toBe(401)
    expect(await rowCounts()).toEqual(before)
  })

  test('a non-JSON content type is 415; a body over 1 MiB is 413', async () => {
    const raw = device.authRequestBody()
    const before = await rowCounts()
    const wrongType = await t.call('POST', AUTH_REQUESTS, {
      raw,
      headers: {
        'content-type': 'text/plain',
        'content-length': String(Buffer.byteLength(raw)),
        'x-men-signature': device.sign(raw),
      },
    })
    expect(wrongType.status).toBe(415)
    const big = body({ id_data: JSON.stringify({ mac: 'x', pad: 'x'.repeat(1024 * 1024) }), pubkey })
    const tooBig = await t.call('POST', AUTH_REQUESTS, {
      raw: big,
      headers: { 'content-type': 'application/json', 'x-men-signature': device.sign(big) },
    })
    expect(tooBig.status).toBe(413)
    expect(await rowCounts()).toEqual(before)
  })
})

describe('what clients send', () => {
  test('a chunked body (no Content-Length) is read whole and verified', async () => {
    const device = new TestDevice()
    const raw = device.authRequestBody()
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(Buffer.from(raw.slice(0, 100)))
        controller.enqueue(Buffer.from(raw.slice(100)))
        controller.close()
      },
    })
    const res = await t.call('POST', AUTH_REQUESTS, { raw: stream, headers: device.authHeaders(raw) })
    expect(res.status).toBe(401)
    expect((await findDevice(t, admin, device)).status).toBe('pending')
  })

  test("the C++ client's body (no tenant_token, a tier) and any tenant token are accepted", async () => {
    const device = new TestDevice()
    for (const fields of [{ tier: 'standard' }, { tenant_token: 'ignored-in-open-source' }]) {
      const raw = `${JSON.stringify({ id_data: JSON.stringify(device.identity), pubkey: device.pubkey, ...fields })}\n`
      const res = await t.call('POST', AUTH_REQUESTS, { raw, headers: device.authHeaders(raw) })
      expect(res.status).toBe(401)
      expect(res.json.error).toBe('dev auth: unauthorized')
    }
  })

  test('a trailing slash reaches the same route', async () => {
    const device = new TestDevice()
    const raw = device.authRequestBody()
    const res = await t.call('POST', `${AUTH_REQUESTS}/`, { raw, headers: device.authHeaders(raw) })
    expect(res.status).toBe(401)
    expect(res.json.error).toBe('dev auth: unauthorized')
  })
})
