import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { MetricsStore } from '../../src/metrics/store.ts'

/** The tables the gauges read, by name; rows are given as either engine's Drizzle tables take them. */
export type GaugedTable = 'deviceauth_devices' | 'deployments_deployments' | 'deployments_artifacts'

export type MetricsContractTarget = {
  store: MetricsStore
  insert(table: GaugedTable, rows: Record<string, unknown>[]): Promise<void>
  /** Writes `count` events into the outbox. */
  appendEvents(count: number): Promise<void>
  /** Saves a durable subscriber's position, as the events store does. */
  saveCursor(name: string, seq: number): Promise<void>
  close(): Promise<void>
}

const at = new Date(Date.UTC(2026, 0, 1))
const device = (id: string, status: string) => ({
  id,
  identity: `{"mac":"${id}"}`,
  identityHash: id,
  status,
  createdTs: at,
  updatedTs: at,
})
const deployment = (id: string, finished: Date | null, maxDevices: number, deviceCount: number) => ({
  id,
  name: id,
  artifactName: 'a',
  created: at,
  finished,
  status: finished ? 'finished' : 'inprogress',
  maxDevices,
  deviceCount,
  artifacts: [],
  groups: [],
  target: 'devices',
  checksum: id,
})
const artifact = (id: string, size: number) => ({
  id,
  name: id,
  deviceTypes: ['pi'],
  info: { format: 'mender', version: 3 },
  signed: false,
  updates: [],
  depends: { device_type: ['pi'] },
  size,
  modified: at,
})

/** What every engine's metrics store promises; each engine's test file runs it against a real database. */
export function metricsStoreContract(name: string, open: () => Promise<MetricsContractTarget>): void {
  describe(`${name} metrics store`, () => {
    let target: MetricsContractTarget
    beforeAll(async () => {
      target = await open()
    })
    afterAll(() => target.close())

    test('an empty database has zero of everything', async () => {
      expect(await target.store.fleetGauges()).toEqual({
        devicesByStatus: {},
        activeDeployments: 0,
        activeDeploymentDevices: { listed: 0, started: 0 },
        artifactBytes: 0,
        outbox: { events: 0, lastSeq: 0 },
        subscriberBacklog: {},
      })
    })

    test('counts devices by status, the active deployments, artifact bytes and the outbox', async () => {
      await target.insert('deviceauth_devices', [
        device('d1', 'accepted'),
        device('d2', 'accepted'),
        device('d3', 'pending'),
      ])
      await target.insert('deployments_deployments', [
        deployment('x1', null, 10, 4),
        deployment('x2', null, 5, 5),
        deployment('x3', at, 100, 100),
      ])
      // Past 2^32: sums are not cut to 32 bits.
      await target.insert('deployments_artifacts', [artifact('a1', 5 * 2 ** 32), artifact('a2', 7)])
      await target.appendEvents(3)
      const last = (await target.store.fleetGauges()).outbox.lastSeq
      await target.saveCursor('webhooks', last - 1)
      const gauges = await target.store.fleetGauges()
      expect(gauges).toEqual({
        devicesByStatus: { accepted: 2, pending: 1 },
        activeDeployments: 2,
        activeDeploymentDevices: { listed: 15, started: 9 },
        artifactBytes: 5 * 2 ** 32 + 7,
        outbox: { events: 3, lastSeq: last },
        subscriberBacklog: { webhooks: 1 },
      })
      expect(gauges.outbox.lastSeq).toBeGreaterThanOrEqual(3)
    })
  })
}
