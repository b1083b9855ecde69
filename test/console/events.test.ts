import { afterAll, beforeAll, expect, test } from 'bun:test'
import { acceptedDevice } from '../deployments/rollout.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { readEvents } from '../helpers/events.ts'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const stream = (headers: Record<string, string> = {}) =>
  t.app.handle(
    new Request('http://localhost/api/management/v1/events/stream', {
      headers: { authorization: `Bearer ${admin}`, ...headers },
    }),
  )

test('the stream needs a user token', async () => {
  const res = await t.app.handle(new Request('http://localhost/api/management/v1/events/stream'))
  expect(res.status).toBe(401)
})

test('a new pending device, its acceptance and its provisioning arrive as server-sent events; Last-Event-ID resumes', async () => {
  const res = await stream()
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  const reading = readEvents(res, (events) => events.length >= 3)
  const device = await acceptedDevice(t, admin)
  const events = await reading
  expect(events.map((e) => [e.event, e.data.data.status])).toEqual([
    ['device-status-changed', 'pending'],
    ['device-provisioned', 'accepted'],
    ['device-status-changed', 'accepted'],
  ])
  for (const e of events) {
    expect(e.data).toMatchObject({ type: e.event, subject: device.id })
    expect(e.data.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(Number.isNaN(Date.parse(e.data.time))).toBe(false)
  }
  // Resuming after the first event replays the two after it.
  const resumed = await readEvents(
    await stream({ 'last-event-id': events[0]!.id }),
    (seen) => seen.length >= 2,
  )
  expect(resumed.map((e) => e.id)).toEqual([events[1]!.id, events[2]!.id])
})
