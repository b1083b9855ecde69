import { afterAll, expect, test } from 'bun:test'
import { openPgDatabase } from '../../db/pg.ts'
import { createPgDeviceconnectStore } from '../../src/services/deviceconnect/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { deviceconnectStoreContract, LIMITS, slot } from './store.contract.ts'

const opened: (() => Promise<void>)[] = []

async function openStore() {
  const { db, url, close } = await openTestPgDatabase()
  opened.push(close)
  return { store: createPgDeviceconnectStore(db), url }
}

deviceconnectStoreContract('PostgreSQL', async () => (await openStore()).store)

afterAll(async () => {
  for (const close of opened) await close()
})

// What only several instances need: places that stop counting when their instance stops renewing
// them, and instances taking places for the same user at the same moment.

test('an open session not renewed within its lease stops counting, and is ended in the audit list', async () => {
  const { store } = await openStore()
  const short = { ...LIMITS, perUser: 1, leaseMs: 300 }
  const session = {
    id: 'dead-1',
    tenantId: 't1',
    userId: 'user-1',
    deviceId: 'device-1',
    kind: 'remote' as const,
    startTs: new Date(),
    endTs: null,
    end: 'open' as const,
    bytes: 0,
    recordedBytes: 0,
    path: null,
  }
  await store.insertSession(session)
  expect(await store.takeSlot(slot('dead-1', { instanceId: 'dead' }), short)).toBeUndefined()
  expect(await store.takeSlot(slot('live-1', { instanceId: 'live' }), short)).toBe('user')
  // Nobody renews the dead instance's place: it stops counting once its lease has run out.
  await Bun.sleep(400)
  expect(await store.takeSlot(slot('live-1', { instanceId: 'live' }), short)).toBeUndefined()
  // A place renewed before its lease runs out keeps counting past it.
  await Bun.sleep(150)
  await store.renewSlots(['live-1'], 10_000)
  await Bun.sleep(250)
  expect(await store.takeSlot(slot('live-2', { instanceId: 'live' }), short)).toBe('user')
  const at = new Date()
  expect(await store.dropExpiredSlots(at)).toBe(1)
  expect(await store.findSession('t1', 'dead-1')).toMatchObject({ end: 'server_stopped', endTs: at })
  expect(await store.dropExpiredSlots(at)).toBe(0)
})

test('instances taking places for one user at the same moment never pass the limit', async () => {
  const { url } = await openStore()
  const pools = await Promise.all([openPgDatabase(url, { max: 8 }), openPgDatabase(url, { max: 8 })])
  try {
    const stores = pools.map((db) => createPgDeviceconnectStore(db))
    const limits = { ...LIMITS, perUser: 5, perDevice: 100 }
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % 2]!.takeSlot(
          slot(`race-${i}`, { deviceId: `device-${i}`, instanceId: `i${i % 2}` }),
          limits,
        ),
      ),
    )
    expect(answers.filter((a) => a === undefined)).toHaveLength(5)
    expect(answers.filter((a) => a === 'user')).toHaveLength(35)
    // And for one device, users racing from both instances.
    const device = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % 2]!.takeSlot(slot(`dev-${i}`, { userId: `u-${i}`, deviceId: 'shared' }), {
          ...limits,
          perDevice: 7,
        }),
      ),
    )
    expect(device.filter((a) => a === undefined)).toHaveLength(7)
  } finally {
    for (const db of pools) await db.$client.close()
  }
})
