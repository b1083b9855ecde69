import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { startReceiver } from './receiver.ts'

const INTERNAL = '/api/internal/v1/iot-manager'

let t: TestApp
let admin: string
const receiver = startReceiver()

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
  const res = await t.call('POST', '/api/management/v1/iot-manager/integrations', {
    token: admin,
    body: { provider: 'webhook', credentials: { type: 'http', http: { url: receiver.url } } },
  })
  expect(res.status).toBe(201)
})
afterAll(() => {
  receiver.stop()
  t.close()
})

test('provision, status and decommission announcements reach the webhook as Mender sends them', async () => {
  const id = crypto.randomUUID()
  const provision = await t.call('POST', `${INTERNAL}/tenants//devices`, {
    token: admin,
    body: { id, status: 'accepted', created_ts: '2026-01-01T00:00:00Z' },
  })
  expect(provision.status).toBe(202)
  const bulk = await t.call('PUT', `${INTERNAL}/tenants//bulk/devices/status/rejected`, {
    token: admin,
    body: [{ id }],
  })
  expect(bulk.status).toBe(202)
  expect((await t.call('DELETE', `${INTERNAL}/tenants//devices/${id}`, { token: admin })).status).toBe(202)
  await receiver.until(3)
  expect(receiver.received.map((r) => [r.json.type, r.json.data])).toEqual([
    ['device-provisioned', { id, status: 'accepted', created_ts: '2026-01-01T00:00:00Z' }],
    ['device-status-changed', { id, status: 'rejected' }],
    ['device-decommissioned', { id }],
  ])
})

test('refuses bad input, another tenant and a missing token', async () => {
  const bad = [
    ['POST', `${INTERNAL}/tenants//devices`, { status: 'accepted' }],
    ['PUT', `${INTERNAL}/tenants//bulk/devices/status/exploded`, [{ id: 'x' }]],
    [
      'PUT',
      `${INTERNAL}/tenants//bulk/devices/status/accepted`,
      Array.from({ length: 101 }, (_, i) => ({ id: `d${i}` })),
    ],
  ] as const
  for (const [method, path, body] of bad)
    expect((await t.call(method, path, { token: admin, body })).status).toBe(400)
  expect(
    (await t.call('POST', `${INTERNAL}/tenants/other/devices`, { token: admin, body: { id: 'x' } })).status,
  ).toBe(403)
  expect((await t.call('DELETE', `${INTERNAL}/tenants/other`, { token: admin })).status).toBe(403)
  expect((await t.call('POST', `${INTERNAL}/tenants//devices`, { body: { id: 'x' } })).status).toBe(401)
})
