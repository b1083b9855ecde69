import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AUTH_REQUESTS, TestDevice } from '../helpers/device.ts'
import { type RunningServer, startBender, waitFor } from '../helpers/server.ts'
import { startReceiver } from './receiver.ts'

/**
 * At-least-once across a crash: bender runs as its own process, a receiver answers the first
 * deliveries and then holds the next ones unanswered, bender is killed with SIGKILL while they
 * hang, and the restarted bender delivers everything, each device's events in order.
 */

const EMAIL = 'admin@example.com'
const PASSWORD = 'correct-horse-1'
const ANSWERED_BEFORE_CRASH = 3

const dataDir = mkdtempSync(join(tmpdir(), 'bender-durable-'))
let server: RunningServer | undefined
let open = false
const receiver = startReceiver(async (_, index) => {
  // Held until the process that sent it is gone; its connection then closes unanswered.
  while (index >= ANSWERED_BEFORE_CRASH && !open) await Bun.sleep(20)
  return new Response(null, { status: 200 })
})

afterAll(async () => {
  await server?.stop()
  receiver.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const start = () =>
  startBender({
    dataDir,
    env: { BENDER_ADMIN_EMAIL: EMAIL, BENDER_ADMIN_PASSWORD: PASSWORD, BENDER_LOG_LEVEL: 'warn' },
  })

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
  })
  expect(res.status).toBe(200)
  return res.text()
}

async function call(url: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined }
}

test('every event reaches the receiver at least once, in order per device, across a kill -9', async () => {
  server = await start()
  const token = await login(server.url)
  const made = await call(server.url, token, 'POST', '/api/management/v1/iot-manager/integrations', {
    provider: 'webhook',
    credentials: { type: 'http', http: { url: receiver.url } },
  })
  expect(made.status).toBe(201)

  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const device = new TestDevice({ mac: `02:00:00:00:00:0${i}` }, 'ed25519')
    const body = device.authRequestBody()
    const asked = await fetch(`${server.url}${AUTH_REQUESTS}`, {
      method: 'POST',
      headers: device.authHeaders(body),
      body,
    })
    expect(asked.status).toBe(401)
    const listed = (await call(server.url, token, 'GET', '/api/management/v2/devauth/devices?per_page=100'))
      .json
    const found = listed.find((d: any) => d.identity_data.mac === device.identity.mac)
    ids.push(found.id)
    const status = `/api/management/v2/devauth/devices/${found.id}/auth/${found.auth_sets[0].id}/status`
    for (const next of ['accepted', 'rejected', 'accepted'])
      expect((await call(server.url, token, 'PUT', status, { status: next })).status).toBe(204)
  }
  // Some deliveries are answered, the next ones hang in the receiver: now the process dies.
  await receiver.until(ANSWERED_BEFORE_CRASH + 1)
  server.proc.kill('SIGKILL')
  await server.proc.exited
  const hung = receiver.received[ANSWERED_BEFORE_CRASH]!.json.id
  open = true

  server = await start()
  const after = await login(server.url)
  const recorded = await waitFor(
    'all fifteen events delivered',
    async () => {
      const events = (
        await call(server!.url, after, 'GET', '/api/management/v1/iot-manager/events?per_page=100')
      ).json
      return events.length === 15 && events.every((e: any) => e.delivery_statuses[0]?.success)
        ? events
        : undefined
    },
    60_000,
  )
  const seen = new Set(receiver.received.map((r) => r.json.id))
  for (const event of recorded) expect(seen.has(event.id)).toBe(true)
  // The delivery that hung when the process died was sent again.
  expect(receiver.received.filter((r) => r.json.id === hung).length).toBeGreaterThanOrEqual(2)
  for (const id of ids) {
    const firsts: string[] = []
    const order: string[] = []
    for (const r of receiver.received) {
      if (r.json.data.id !== id || firsts.includes(r.json.id)) continue
      firsts.push(r.json.id)
      order.push(r.json.type === 'device-status-changed' ? r.json.data.status : r.json.type)
    }
    expect(order).toEqual(['device-provisioned', 'accepted', 'rejected', 'device-provisioned', 'accepted'])
  }
}, 120_000)
