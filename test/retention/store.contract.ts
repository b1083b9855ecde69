import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { RetentionStore } from '../../src/retention/store.ts'

/** The tables a purge reads and deletes from, by name; rows as either engine's Drizzle tables take them. */
export type PurgedTable =
  | 'deployments_deployments'
  | 'deployments_device_deployments'
  | 'deployments_device_logs'

export type RetentionContractTarget = {
  store: RetentionStore
  insert(table: PurgedTable, rows: Record<string, unknown>[]): Promise<void>
  /** The device deployments left (their ids, with their log flag) and the logs left (deployment/device). */
  remaining(): Promise<{ deviceDeployments: [string, boolean][]; logs: string[] }>
  close(): Promise<void>
}

const DAY = 86_400_000
const t0 = Date.UTC(2026, 0, 1)
const at = (day: number) => new Date(t0 + day * DAY)

const deployment = (id: string, finished: Date | null) => ({
  id,
  name: id,
  artifactName: 'a',
  created: at(0),
  finished,
  status: finished ? 'finished' : 'inprogress',
  maxDevices: 2,
  artifacts: [],
  groups: [],
  target: 'devices',
  checksum: id,
})
const deviceDeployment = (id: string, deploymentId: string, deviceId: string, day: number, log: boolean) => ({
  id,
  deploymentId,
  deviceId,
  status: 1,
  active: false,
  created: at(day),
  finished: at(day + 1),
  log,
})
const log = (deploymentId: string, deviceId: string) => ({
  deploymentId,
  deviceId,
  messages: [{ timestamp: '2026-01-01T00:00:00Z', level: 'error', message: 'failed' }],
})

/** What every engine's retention store promises; each engine's test file runs it against a real database. */
export function retentionStoreContract(name: string, open: () => Promise<RetentionContractTarget>): void {
  describe(`${name} retention store`, () => {
    let target: RetentionContractTarget
    beforeAll(async () => {
      target = await open()
    })
    afterAll(() => target.close())

    test('purges old finished history in batches: a device keeps its newest, active deployments keep theirs', async () => {
      await target.insert('deployments_deployments', [
        deployment('old', at(2)),
        deployment('new', at(4)),
        deployment('running', null),
      ])
      await target.insert('deployments_device_deployments', [
        // Device A: its old one goes (a newer finished one exists), with its log; its newest stays.
        deviceDeployment('a-old', 'old', 'A', 1, true),
        deviceDeployment('a-new', 'new', 'A', 3, true),
        // Device B's part of a deployment still running stays, its log goes.
        deviceDeployment('b-run', 'running', 'B', 1, true),
        // Finished after the cutoff: untouched.
        deviceDeployment('c-late', 'new', 'C', 40, false),
      ])
      await target.insert('deployments_device_logs', [log('old', 'A'), log('new', 'A'), log('running', 'B')])

      const cutoff = at(30).getTime()
      const first = await target.store.purgeBatch(cutoff, { finished: 0, seq: 0 }, 2)
      expect(first.visited).toBe(2)
      const second = await target.store.purgeBatch(cutoff, first.next, 2)
      expect(second.visited).toBe(1)
      const third = await target.store.purgeBatch(cutoff, second.next, 2)
      expect(third).toEqual({ visited: 0, rowsDeleted: 0, logsDeleted: 0, next: second.next })
      expect(first.rowsDeleted + second.rowsDeleted).toBe(1)
      expect(first.logsDeleted + second.logsDeleted).toBe(3)

      const left = await target.remaining()
      expect(left.deviceDeployments.sort()).toEqual([
        ['a-new', false],
        ['b-run', false],
        ['c-late', false],
      ])
      expect(left.logs).toEqual([])
    })
  })
}
