import { afterEach, beforeEach, expect, test } from 'bun:test'
import type { Database } from '../../db/client.ts'
import { createEventsStore } from '../../src/events/store.ts'
import { createDeviceconnectStore } from '../../src/services/deviceconnect/store.ts'
import { openTestDatabase } from '../helpers/database.ts'

let db: Database
let close: () => Promise<void>
beforeEach(async () => {
  ;({ db, close } = await openTestDatabase())
})
afterEach(() => close())

const connectEvents = async () =>
  (await createEventsStore(db).readAfter(0, 100))
    .filter((e) => e.type === 'device-connect-status-changed')
    .map((e) => ({ subject: e.subject, status: e.data.status }))

test('connect, a stale disconnect, the current disconnect and the start-up reset each write what changed', async () => {
  const store = createDeviceconnectStore(db)
  const at = new Date('2026-01-01T00:00:00Z')
  const first = await store.connectDevice('', 'a', at)
  const second = await store.connectDevice('', 'a', at)
  // The older connection's close changes nothing, so it announces nothing.
  expect(await store.disconnectDevice('', 'a', first, at)).toBe(false)
  expect(await store.disconnectDevice('', 'a', second, at)).toBe(true)
  await store.connectDevice('', 'b', at)
  await store.provisionDevice('', 'c', at)
  // A restart: 'b' was left connected by the previous process; 'a' and 'c' were not connected.
  await store.resetLiveState(new Date('2026-01-01T00:01:00Z'))
  expect(await connectEvents()).toEqual([
    { subject: 'a', status: 'connected' },
    { subject: 'a', status: 'connected' },
    { subject: 'a', status: 'disconnected' },
    { subject: 'b', status: 'connected' },
    { subject: 'b', status: 'disconnected' },
  ])
})
