import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { OutboxEvent } from '../../src/events/model.ts'
import { acceptedDevice } from '../helpers/device.ts'
import { expectMenderError } from '../helpers/errors.ts'
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts'
import { adminOf, Socket, wsUrl } from './helpers.ts'

const DEVICE_WS = '/api/devices/v1/deviceconnect/connect'
const MGMT = '/api/management/v1/deviceconnect'
const INTERNAL = '/api/internal/v1/deviceconnect'

let server: TestServer
let admin: string
let device: { id: string; token: string }
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

beforeAll(async () => {
  server = await startTestServer()
  admin = await adminOf(server)
  device = await acceptedDevice(server, admin)
})
afterAll(() => server?.stop())

describe("Mender's tenant-scoped internal deviceconnect routes", () => {
  test("need a user token and act on the caller's own tenant only", async () => {
    const provision = { body: { device_id: crypto.randomUUID() } }
    expectMenderError(await server.call('POST', `${INTERNAL}/tenants//devices`, provision), 401)
    expectMenderError(await server.call('DELETE', `${INTERNAL}/tenants//devices/${device.id}`), 401)
    expectMenderError(
      await server.call('POST', `${INTERNAL}/tenants//devices/${device.id}/check-update`),
      401,
    )
    expectMenderError(
      await server.call('POST', `${INTERNAL}/tenants/other/devices`, { token: admin, ...provision }),
      403,
    )
    expectMenderError(
      await server.call('POST', `${INTERNAL}/tenants/other/devices/${device.id}/send-inventory`, {
        token: admin,
      }),
      403,
    )
    expectMenderError(await server.call('DELETE', `${INTERNAL}/tenants/other`, { token: admin }), 403)
    // Nothing was provisioned by the refused calls.
    expect(
      (await server.call('GET', `${MGMT}/devices/${provision.body.device_id}`, { token: admin })).status,
    ).toBe(404)
  })

  test('provision makes a device known as disconnected; decommission forgets it', async () => {
    const id = crypto.randomUUID()
    const made = await server.call('POST', `${INTERNAL}/tenants//devices`, {
      token: admin,
      body: { device_id: id },
    })
    expect(made.status).toBe(201)
    const known = await server.call('GET', `${MGMT}/devices/${id}`, { token: admin })
    expect(known.json).toMatchObject({ device_id: id, status: 'disconnected' })
    const gone = await server.call('DELETE', `${INTERNAL}/tenants//devices/${id}`, { token: admin })
    expect(gone.status).toBe(202)
    expect((await server.call('GET', `${MGMT}/devices/${id}`, { token: admin })).status).toBe(404)
    for (const body of [{}, { device_id: 'not-a-uuid' }, { device_id: 7 }]) {
      expectMenderError(
        await server.call('POST', `${INTERNAL}/tenants//devices`, { token: admin, body }),
        400,
      )
    }
  })

  test('check-update and send-inventory reach a connected device; a disconnected one is a 404', async () => {
    const path = (command: string) => `${INTERNAL}/tenants//devices/${device.id}/${command}`
    expectMenderError(await server.call('POST', path('check-update'), { token: admin }), 404)
    const ws = new Socket(wsUrl(server.url, DEVICE_WS), bearer(device.token))
    await ws.opened
    try {
      for (const command of ['check-update', 'send-inventory']) {
        expect((await server.call('POST', path(command), { token: admin })).status).toBe(202)
        const { msg } = await ws.next((m) => m.hdr.typ === command)
        expect(msg.hdr.proto).toBe(4)
      }
      expectMenderError(await server.call('POST', path('reboot'), { token: admin }), 400)
    } finally {
      ws.close()
      await ws.closed
    }
  })

  test('shutdown is not served: stopping the process (SIGTERM) is how bender shuts down', async () => {
    expect((await server.call('GET', `${INTERNAL}/shutdown`, { token: admin })).status).toBe(404)
  })
})

test('a device connecting and disconnecting writes events to the outbox, in order', async () => {
  const seen: OutboxEvent[] = []
  const afterSeq = await server.services.events.lastSeq()
  const stop = server.services.events.subscribe(
    (event) => {
      if (event.type === 'device-connect-status-changed' && event.subject === device.id) seen.push(event)
    },
    { afterSeq },
  )
  try {
    const ws = new Socket(wsUrl(server.url, DEVICE_WS), bearer(device.token))
    await ws.opened
    // An earlier test's connection of this device may still be recorded as this one starts (its
    // connected event, or its disconnection, then comes first), and is not this connection's: the
    // pair that counts is the last disconnection and the last connection before it.
    const mine = () => {
      const last = seen.length - 1
      if (seen[last]?.data.status !== 'disconnected') return []
      const before = seen.slice(0, last).findLastIndex((e) => e.data.status === 'connected')
      return before >= 0 ? [seen[before]!, seen[last]!] : []
    }
    await waitFor('the connected event', () =>
      seen.some((e) => e.data.status === 'connected') ? true : undefined,
    )
    ws.close()
    await ws.closed
    await waitFor('the disconnected event', () => (mine().length === 2 ? true : undefined))
    const [connected, disconnected] = mine()
    expect([connected!.data, disconnected!.data]).toEqual([
      { id: device.id, status: 'connected', updated_ts: expect.any(String) },
      { id: device.id, status: 'disconnected', updated_ts: expect.any(String) },
    ])
    expect(connected!.seq).toBeLessThan(disconnected!.seq)
    const state = await server.call('GET', `${MGMT}/devices/${device.id}`, { token: admin })
    expect(state.json.updated_ts).toBe(disconnected!.data.updated_ts)
  } finally {
    stop()
  }
})
