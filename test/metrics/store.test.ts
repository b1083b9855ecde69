import { afterEach, beforeEach, expect, test } from 'bun:test'
import type { Database } from '../../db/client.ts'
import { outboxFor } from '../../src/events/outbox.ts'
import { createEventsStore } from '../../src/events/store.ts'
import { createMetricsStore } from '../../src/metrics/store.ts'
import { artifacts } from '../../src/services/artifacts/tables.ts'
import { deployments } from '../../src/services/deployments/tables.ts'
import { devices } from '../../src/services/deviceauth/tables.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { metricsStoreContract } from './store.contract.ts'

let db: Database
let close: () => Promise<void>
beforeEach(async () => {
  ;({ db, close } = await openTestDatabase())
})
afterEach(() => close())

const append = (n: number) => {
  for (let i = 0; i < n; i++)
    outboxFor(db).append({ tenantId: '', type: 'device-status-changed', subject: `d${i}`, data: {} })
}

test('each durable subscriber is behind the newest event by what it has not saved yet', async () => {
  const events = createEventsStore(db)
  const metrics = createMetricsStore(db)
  expect((await metrics.fleetGauges()).subscriberBacklog).toEqual({})
  append(10)
  await events.saveCursor('iot-manager', 3)
  await events.saveCursor('deviceconfig', 10)
  expect((await metrics.fleetGauges()).subscriberBacklog).toEqual({ deviceconfig: 0, 'iot-manager': 7 })
  append(2)
  expect((await metrics.fleetGauges()).subscriberBacklog).toEqual({ deviceconfig: 2, 'iot-manager': 9 })
})

test('the backlog counts from the newest seq ever written, also once pruning emptied the outbox', async () => {
  const events = createEventsStore(db)
  const metrics = createMetricsStore(db)
  append(5)
  await events.saveCursor('iot-manager', 1)
  expect(await events.prune(new Date(Date.now() + 60_000), 0)).toBe(5)
  const gauges = await metrics.fleetGauges()
  expect(gauges.outbox.events).toBe(0)
  expect(gauges.subscriberBacklog).toEqual({ 'iot-manager': 4 })
})

const tables = {
  deviceauth_devices: devices,
  deployments_deployments: deployments,
  deployments_artifacts: artifacts,
}

metricsStoreContract('SQLite', async () => {
  const opened = await openTestDatabase()
  const events = createEventsStore(opened.db)
  return {
    store: createMetricsStore(opened.db),
    async insert(table, rows) {
      opened.db
        .insert(tables[table])
        .values(rows as never)
        .run()
    },
    async appendEvents(count) {
      const outbox = outboxFor(opened.db)
      opened.db.transaction(() => {
        for (let n = 0; n < count; n++)
          outbox.append({ tenantId: '', type: 'device-provisioned', subject: 'd', data: { n } })
      })
    },
    saveCursor: (name, seq) => events.saveCursor(name, seq),
    close: opened.close,
  }
})
