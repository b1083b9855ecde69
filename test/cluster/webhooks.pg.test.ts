import { expect, test } from 'bun:test'
import { openPgDatabase } from '../../db/pg.ts'
import { systemClock } from '../../src/clock.ts'
import { createPgLeases } from '../../src/cluster/leases.pg.ts'
import { loadConfig } from '../../src/config.ts'
import type { Deps } from '../../src/deps.ts'
import { pgOutboxFor } from '../../src/events/outbox.pg.ts'
import { createEventsService } from '../../src/events/service.ts'
import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { randomIds } from '../../src/ids.ts'
import { createLogger } from '../../src/log.ts'
import { createIotManagerService } from '../../src/services/iot-manager/service.ts'
import { createPgIotManagerStore } from '../../src/services/iot-manager/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { startReceiver } from '../iot-manager/receiver.ts'

const log = createLogger('error')

/** One bender instance's webhooks: its own pool, events service and leases on the shared database. */
async function instance(url: string) {
  const db = await openPgDatabase(url)
  const leases = createPgLeases(url, { log, retryMs: 20 })
  // Only iot-manager's store is used: the other services have no part in this test.
  const stores = { iotManager: createPgIotManagerStore(db) } as Partial<Deps['stores']> as Deps['stores']
  const deps = { config: loadConfig({}), clock: systemClock, log, ids: randomIds, stores }
  const events = createEventsService(
    deps,
    { store: createPgEventsStore(db), outbox: pgOutboxFor(db) },
    leases,
  )
  const devices = { exists: async () => true }
  const iot = createIotManagerService(deps, { events, devices, leases })
  return {
    db,
    leases,
    iot,
    async stop() {
      iot.stop()
      await events.stop()
      await leases.close()
      await db.$client.close()
    },
  }
}

async function announce(db: Awaited<ReturnType<typeof openPgDatabase>>, from: number, to: number) {
  for (let n = from; n <= to; n++) {
    for (const tenantId of TENANTS) {
      await db.transaction(async (tx) => {
        const id = `dev-${n}`
        await pgOutboxFor(db).append(tx, { tenantId, type: 'device-provisioned', subject: id, data: { id } })
      })
    }
  }
}

/** Two tenants, one webhook each (a tenant has at most one). */
const TENANTS = ['tenant-a', 'tenant-b']

/** Whether `count` events of each tenant are recorded as delivered. */
async function allDelivered(db: Awaited<ReturnType<typeof openPgDatabase>>, count: number) {
  const store = createPgIotManagerStore(db)
  for (const tenantId of TENANTS) {
    const events = await store.listEvents(tenantId, undefined, 0, 100)
    if (events.length !== count || events.some((e) => e.deliveries.some((d) => d.state !== 'delivered')))
      return false
  }
  return true
}

const deviceIds = (received: { json: any }[]) => received.map((r) => r.json.data.id as string).sort()
const expected = (to: number) => Array.from({ length: to }, (_, i) => `dev-${i + 1}`).sort()

test('two instances send each event once to each webhook (of two tenants), and the survivor carries on when one stops', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const first = startReceiver()
  const second = startReceiver()
  const a = await instance(url)
  const b = await instance(url)
  try {
    for (const [i, receiver] of [first, second].entries()) {
      await a.iot.createIntegration(TENANTS[i]!, {
        provider: 'webhook',
        credentials: { type: 'http', http: { url: receiver.url } },
      })
    }
    // The subscription has started (on whichever instance holds its lease) once its position is saved.
    while ((await createPgEventsStore(db).readCursor('iot-manager')) === undefined) await Bun.sleep(10)
    // Each of the two instances takes some of the jobs, or all: either way each runs once.
    await announce(a.db, 1, 5)
    await announce(b.db, 6, 10)
    await Promise.all([first.until(10), second.until(10)])
    // A stop aborts requests in flight, whose events are sent again (at least once): here every
    // answer is recorded before the stop.
    while (!(await allDelivered(db, 10))) await Bun.sleep(10)
    const deliverer = a.leases.holds('webhooks') ? a : b
    expect(deliverer.leases.holds('webhooks')).toBe(true)
    expect((deliverer === a ? b : a).leases.holds('webhooks')).toBe(false)
    await deliverer.stop()
    const survivor = deliverer === a ? b : a
    await announce(survivor.db, 11, 15)
    await Promise.all([first.until(15), second.until(15)])
    // Time for a repeat to show, were there one.
    await Bun.sleep(300)
    expect(deviceIds(first.received)).toEqual(expected(15))
    expect(deviceIds(second.received)).toEqual(expected(15))
    expect(survivor.leases.holds('webhooks')).toBe(true)
    await survivor.stop()
  } finally {
    first.stop()
    second.stop()
    await close()
  }
})
