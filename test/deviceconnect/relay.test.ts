import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { acceptedDevice, adminOf, Socket, wsUrl } from './helpers.ts'

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
  server = await startTestServer()
  admin = await adminOf(server)
  device = await acceptedDevice(server, admin)
  deviceWs = new Socket(wsUrl(server.url, DEVICE_WS), bearer(device.token))
  await deviceWs.opened
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
})
