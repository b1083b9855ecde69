import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { acceptedDevice } from '../helpers/device.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { adminOf, codec, pack, Socket, UPGRADE_HEADERS, wsUrl } from './helpers.ts'

const DEVICE_WS = '/api/devices/v1/deviceconnect/connect'
const MGMT = '/api/management/v1/deviceconnect'

let server: TestServer
let admin: string
let device: { id: string; token: string }
let deviceWs: Socket

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const userSession = async () => {
  const ws = new Socket(wsUrl(server.url, `${MGMT}/devices/${device.id}/connect`), bearer(admin))
  await ws.opened
  return ws
}
const status = async () =>
  (await (await fetch(`${server.url}${MGMT}/devices/${device.id}`, { headers: bearer(admin) })).json()) as any

beforeAll(async () => {
  server = await startTestServer({
    BENDER_CONNECT_SESSIONS_PER_USER: '3',
    BENDER_CONNECT_SESSION_BYTES: String(64 * 1024),
  })
  admin = await adminOf(server)
  device = await acceptedDevice(server, admin)
  deviceWs = new Socket(wsUrl(server.url, DEVICE_WS), bearer(device.token))
  await deviceWs.opened
  // The connection is recorded just after the socket opens (a round trip later on PostgreSQL).
  await waitForStatus('connected')
})

afterAll(async () => {
  deviceWs?.close()
  await server?.stop()
})

describe('the relay between a user and a device', () => {
  test('a connected device shows connected', async () => {
    expect((await status()).status).toBe('connected')
  })

  test('user messages reach the device re-encoded, with the session id and the user id stamped', async () => {
    const user = await userSession()
    user.send({ hdr: { proto: 1, typ: 'new', sid: 'forged', props: { terminal_width: 80 } } })
    const { msg } = await deviceWs.next((m) => m.hdr.typ === 'new')
    expect(msg.hdr.sid).not.toBe('forged')
    expect(msg.hdr.sid).toBeString()
    expect(msg.hdr.props?.user_id).toBeString()
    deviceWs.send({
      hdr: { proto: 1, typ: 'shell', sid: msg.hdr.sid, props: { status: 1 } },
      body: Buffer.from('hi\n'),
    })
    const reply = await user.next((m) => m.hdr.typ === 'shell')
    expect(Buffer.from(reply.msg.body!).toString()).toBe('hi\n')
    user.close()
    const stop = await deviceWs.next((m) => m.hdr.typ === 'stop')
    expect(stop.msg.hdr.sid).toBe(msg.hdr.sid)
  })

  test('the device receives offsets of file-transfer messages as msgpack int64', async () => {
    const user = await userSession()
    user.send({ hdr: { proto: 2, typ: 'ack', props: { offset: 5 } } })
    const { raw, msg } = await deviceWs.next((m) => m.hdr.typ === 'ack')
    expect(msg.hdr.props?.offset).toBe(5n)
    const key = Buffer.from(raw).indexOf(Buffer.from('offset'))
    expect(raw[key + 'offset'.length]).toBe(0xd3)
    user.close()
  })
})

describe('hostile user messages end their session, never the device connection', () => {
  const hostile: [string, () => Uint8Array][] = [
    ['malformed msgpack', () => new Uint8Array([0x81, 0xa3, 0x68, 0x64])],
    ['not a map', () => codec.pack([1, 2, 3])],
    ['no header', () => codec.pack({ body: new Uint8Array([1]) })],
    ['an unknown protocol', () => pack({ hdr: { proto: 7, typ: 'new' } })],
    ['a proto out of range', () => codec.pack({ hdr: { proto: 70000 } })],
    [
      'a body that is a map (the old GUI stop)',
      () => codec.pack({ hdr: { proto: 1, typ: 'stop' }, body: {} }),
    ],
    ['props that are not a map', () => codec.pack({ hdr: { proto: 1, typ: 'shell', props: [1] } })],
    [
      'a message over the device limit',
      () => pack({ hdr: { proto: 1, typ: 'shell' }, body: new Uint8Array(9000) }),
    ],
  ]

  test.each(hostile)('%s', async (_name, make) => {
    const user = await userSession()
    user.send(make())
    expect((await user.closed).code).toBe(1008)
    await assertDeviceAlive()
  })

  test('a text frame', async () => {
    const user = await userSession()
    user.ws.send('{"hdr":{"proto":1}}')
    expect((await user.closed).code).toBe(1008)
    await assertDeviceAlive()
  })

  test('a frame over the server limit', async () => {
    const user = await userSession()
    user.send(pack({ hdr: { proto: 1, typ: 'shell' }, body: new Uint8Array(100_000) }))
    expect((await user.closed).code).not.toBe(1000)
    await assertDeviceAlive()
  })

  test('a wrong sid is replaced by the session id: it cannot reach another session', async () => {
    const victim = await userSession()
    victim.send({ hdr: { proto: 1, typ: 'new' } })
    const victimSid = (await deviceWs.next((m) => m.hdr.typ === 'new')).msg.hdr.sid
    const attacker = await userSession()
    attacker.send({ hdr: { proto: 1, typ: 'shell', sid: victimSid }, body: Buffer.from('rm -rf /\n') })
    const seen = await deviceWs.next((m) => m.hdr.typ === 'shell')
    expect(seen.msg.hdr.sid).not.toBe(victimSid)
    deviceWs.send({
      hdr: { proto: 1, typ: 'shell', sid: seen.msg.hdr.sid, props: { status: 1 } },
      body: Buffer.from('x'),
    })
    await attacker.next((m) => m.hdr.typ === 'shell')
    expect(victim.received).toHaveLength(0)
    victim.close()
    attacker.close()
    await deviceWs.next((m) => m.hdr.typ === 'stop')
  })

  test('device messages for an unknown session are dropped', async () => {
    deviceWs.send({
      hdr: { proto: 1, typ: 'shell', sid: 'nobody', props: { status: 1 } },
      body: Buffer.from('x'),
    })
    deviceWs.send(new Uint8Array([0xc1]))
    await assertDeviceAlive()
  })
})

describe('limits and state', () => {
  test('sessions per user are limited (429 before the upgrade)', async () => {
    const open: Socket[] = []
    for (let i = 0; i < 3; i++) open.push(await userSession())
    const refused = await fetch(`${server.url}${MGMT}/devices/${device.id}/connect`, {
      headers: { ...bearer(admin), ...UPGRADE_HEADERS },
    })
    expect(refused.status).toBe(429)
    expect(((await refused.json()) as any).error).toBe('user has too many open sessions')
    for (const ws of open) ws.close()
    await Promise.all(open.map((ws) => ws.closed))
  })

  test('a session past its byte limit is ended on both sides', async () => {
    const user = await userSession()
    user.send({ hdr: { proto: 1, typ: 'new' } })
    const sid = (await deviceWs.next((m) => m.hdr.typ === 'new')).msg.hdr.sid
    for (let i = 0; i < 20; i++) {
      deviceWs.send({
        hdr: { proto: 1, typ: 'shell', sid, props: { status: 1 } },
        body: new Uint8Array(4000),
      })
    }
    const closed = await user.closed
    expect(closed).toEqual({ code: 1008, reason: 'session byte limit exhausted' })
    const stop = await deviceWs.next((m) => m.hdr.typ === 'stop' && m.hdr.sid === sid)
    expect(Buffer.from(stop.msg.body!).toString()).toBe('session byte limit exhausted')
    await assertDeviceAlive()
  })

  test('an idle session is ended by the sweep', async () => {
    const user = await userSession()
    user.send({ hdr: { proto: 1, typ: 'new' } })
    await deviceWs.next((m) => m.hdr.typ === 'new')
    server.clock.advance(1801)
    const closed = await user.closed
    expect(closed).toEqual({ code: 1008, reason: 'session idle timeout' })
    await deviceWs.next((m) => m.hdr.typ === 'stop')
  }, 30_000)

  test('check-update and send-inventory reach the device', async () => {
    for (const command of ['check-update', 'send-inventory']) {
      const res = await fetch(`${server.url}${MGMT}/devices/${device.id}/${command}`, {
        method: 'POST',
        headers: bearer(admin),
      })
      expect(res.status).toBe(202)
      const { msg } = await deviceWs.next((m) => m.hdr.typ === command)
      expect(msg.hdr.proto).toBe(4)
    }
  })

  test('sessions are listed, newest first, and a terminal session can be played back', async () => {
    server.clock.advance(1)
    const user = await userSession()
    user.send({ hdr: { proto: 1, typ: 'new' } })
    const sid = (await deviceWs.next((m) => m.hdr.typ === 'new')).msg.hdr.sid!
    deviceWs.send({
      hdr: { proto: 1, typ: 'shell', sid, props: { status: 1 } },
      body: Buffer.from('recorded output'),
    })
    await user.next((m) => m.hdr.typ === 'shell')
    user.close()
    await deviceWs.next((m) => m.hdr.typ === 'stop')
    const list = await fetch(`${server.url}${MGMT}/sessions?device_id=${device.id}&per_page=1`, {
      headers: bearer(admin),
    })
    expect(list.headers.get('x-total-count')).not.toBe('0')
    const [latest] = (await list.json()) as any[]
    expect(latest.id).toBe(sid)
    const playback = new Socket(
      wsUrl(server.url, `${MGMT}/sessions/${sid}/playback?sleep_ms=0`),
      bearer(admin),
    )
    const replay = await playback.next((m) => m.hdr.typ === 'shell')
    expect(Buffer.from(replay.msg.body!).toString()).toBe('recorded output')
    expect((await playback.closed).code).toBe(1000)
  })

  test('a user session can authenticate with the JWT cookie', async () => {
    const user = new Socket(wsUrl(server.url, `${MGMT}/devices/${device.id}/connect`), {
      cookie: `JWT=${admin}`,
    })
    await user.opened
    user.close()
  })

  test('a newer device connection replaces the older one; a late close does not mark it disconnected', async () => {
    const newer = new Socket(wsUrl(server.url, DEVICE_WS), bearer(device.token))
    await newer.opened
    await deviceWs.closed
    await waitForStatus('connected')
    const user = await userSession()
    user.send({ hdr: { proto: 1, typ: 'new' } })
    await newer.next((m) => m.hdr.typ === 'new')
    newer.close()
    expect((await user.closed).code).toBe(1001)
    await waitForStatus('disconnected')
    deviceWs = new Socket(wsUrl(server.url, DEVICE_WS), bearer(device.token))
    await deviceWs.opened
  })
})

async function waitForStatus(wanted: string) {
  for (let i = 0; i < 50 && (await status()).status !== wanted; i++) await Bun.sleep(100)
  expect((await status()).status).toBe(wanted)
}

/** The device connection still relays: a new session reaches the device and its answer comes back. */
async function assertDeviceAlive() {
  expect(deviceWs.ws.readyState).toBe(WebSocket.OPEN)
  const user = await userSession()
  user.send({ hdr: { proto: 1, typ: 'new' } })
  const { msg } = await deviceWs.next((m) => m.hdr.typ === 'new')
  deviceWs.send({
    hdr: { proto: 1, typ: 'new', sid: msg.hdr.sid, props: { status: 1 } },
    body: Buffer.from('Shell started'),
  })
  await user.next((m) => m.hdr.typ === 'new')
  user.close()
  await deviceWs.next((m) => m.hdr.typ === 'stop')
  expect((await status()).status).toBe('connected')
}

describe('a device whose token is taken away', () => {
  test('is disconnected at the next session to it, which is refused', async () => {
    const devices = (await (
      await fetch(`${server.url}/api/management/v2/devauth/devices/${device.id}`, { headers: bearer(admin) })
    ).json()) as any
    const reject = await fetch(
      `${server.url}/api/management/v2/devauth/devices/${device.id}/auth/${devices.auth_sets[0].id}/status`,
      {
        method: 'PUT',
        headers: { ...bearer(admin), 'content-type': 'application/json' },
        body: '{"status":"rejected"}',
      },
    )
    expect(reject.status).toBe(204)
    const refused = await fetch(`${server.url}${MGMT}/devices/${device.id}/check-update`, {
      method: 'POST',
      headers: bearer(admin),
    })
    expect(refused.status).toBe(404)
    expect((await deviceWs.closed).code).toBe(1008)
    await waitForStatus('disconnected')
  })
})
