import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { emptyStats, statusCode } from '../../src/services/deployments/status.ts'
import type {
  DeviceDeploymentsStore,
  NewDeviceDeployment,
} from '../../src/services/deployments/store.devices.ts'
import {
  type DeploymentRow,
  type DeploymentsStore,
  statsOf,
  statValues,
} from '../../src/services/deployments/store.ts'

export type DeploymentsContractTarget = {
  deployments: DeploymentsStore
  devices: DeviceDeploymentsStore
  close(): Promise<void>
}

let clock = Date.UTC(2026, 0, 1)
/** Strictly increasing times: creation order is what the rules compare. */
const tick = () => {
  clock += 1000
  return new Date(clock)
}

function deployment(
  tenantId: string,
  deviceIds: readonly string[],
  extra: Partial<DeploymentRow> = {},
): DeploymentRow {
  return {
    id: crypto.randomUUID(),
    tenantId,
    name: 'rollout',
    artifactName: 'app-1',
    created: tick(),
    finished: null,
    status: 'pending',
    deviceCount: 0,
    maxDevices: deviceIds.length,
    allDevices: false,
    forceInstallation: false,
    artifacts: [],
    groups: [],
    target: 'devices',
    checksum: crypto.randomUUID(),
    totalSize: 0,
    type: 'software',
    configuration: null,
    ...statValues({ ...emptyStats(), pending: deviceIds.length }),
    ...extra,
  }
}

function deviceDeployment(
  of: DeploymentRow,
  deviceId: string,
  status = 'pending' as const,
): NewDeviceDeployment {
  return {
    id: crypto.randomUUID(),
    tenantId: of.tenantId,
    deploymentId: of.id,
    deviceId,
    status: statusCode(status),
    active: true,
    created: of.created,
    started: null,
    finished: null,
    deleted: null,
    substate: null,
    log: false,
    artifactId: null,
    request: null,
  }
}

/**
 * What every engine's deployments stores promise; each engine's test file runs it against a real
 * database. Every call is awaited, so the suite holds for promise-returning stores.
 */
export function deploymentsStoreContract(name: string, open: () => Promise<DeploymentsContractTarget>): void {
  describe(`${name} deployments stores`, () => {
    let target: DeploymentsContractTarget
    let store: DeploymentsStore
    let devices: DeviceDeploymentsStore
    beforeAll(async () => {
      target = await open()
      store = target.deployments
      devices = target.devices
    })
    afterAll(() => target.close())

    test('deployments: inserted with their device list once while active; found, listed, counted', async () => {
      const tenant = 'dep'
      expect(await store.oldestActiveCreated(tenant)).toBeNull()
      const first = deployment(tenant, ['d1', 'd2'], { name: 'first' })
      expect(await store.insertDeployment(first, ['d1', 'd2'])).toBe(true)
      expect(
        await store.insertDeployment({ ...deployment(tenant, ['d1']), checksum: first.checksum }, ['d1']),
      ).toBe(false)
      const second = deployment(tenant, ['d3'], { name: 'second', artifactName: 'app-2' })
      expect(await store.insertDeployment(second, ['d3'])).toBe(true)
      expect(await store.findDeployment(tenant, first.id)).toEqual(first)
      expect(await store.findDeployment('other', first.id)).toBeUndefined()
      expect(await store.oldestActiveCreated(tenant)).toBe(first.created.getTime())
      expect(await store.latestCreated(tenant)).toEqual(second.created)
      expect(await store.listDeviceIds(tenant, first.id)).toEqual(['d1', 'd2'])
      const ids = async (query: Parameters<DeploymentsStore['listDeployments']>[1]) =>
        (await store.listDeployments(tenant, query, 0, 10)).map((d) => d.name)
      expect(await ids({ sort: 'desc' })).toEqual(['second', 'first'])
      expect(await ids({ sort: 'asc' })).toEqual(['first', 'second'])
      expect(await ids({ sort: 'asc', names: ['second'] })).toEqual(['second'])
      expect(await ids({ sort: 'asc', search: 'APP-2' })).toEqual(['second'])
      expect(await ids({ sort: 'asc', forDevice: 'd1' })).toEqual(['first'])
      expect(await ids({ sort: 'asc', createdAfter: new Date(first.created.getTime() + 1) })).toEqual([
        'second',
      ])
      expect((await store.listDeployments(tenant, { sort: 'asc' }, 1, 1)).map((d) => d.name)).toEqual([
        'second',
      ])
      expect(await store.countDeployments(tenant, { sort: 'asc', status: 'pending' })).toBe(2)
      const found = await store.findDeploymentsByIds(tenant, [second.id, first.id, crypto.randomUUID()])
      expect(found.map((d) => d.id).sort()).toEqual([first.id, second.id].sort())
      expect(await store.activeDeploymentIds(tenant, ['app-2'])).toEqual([second.id])
      expect(await store.usesArtifactName(tenant, 'app-1')).toBe(true)
      expect(await store.usesArtifactName(tenant, 'app-9')).toBe(false)
    })

    test('counts move one device at a time; status, totals, artifacts and logs are kept', async () => {
      const tenant = 'counts'
      const row = deployment(tenant, ['d1'])
      await store.insertDeployment(row, ['d1'])
      const after = await store.moveStat(tenant, row.id, 'pending', 'downloading')
      expect(after).toMatchObject({ maxDevices: 1, finished: null, status: 'pending' })
      expect(after?.stats).toMatchObject({ pending: 0, downloading: 1 })
      expect((await store.moveStat(tenant, row.id, null, 'success'))?.stats).toMatchObject({ success: 1 })
      await store.setStats(tenant, row.id, { ...emptyStats(), failure: 1 })
      await store.addDeviceCount(tenant, row.id)
      await store.addTotalSize(tenant, row.id, 500)
      await store.addArtifact(tenant, row.id, 'art-1')
      await store.addArtifact(tenant, row.id, 'art-1')
      await store.setStatus(tenant, row.id, 'finished', new Date(clock))
      const stored = await store.findDeployment(tenant, row.id)
      expect(stored).toMatchObject({
        deviceCount: 1,
        totalSize: 500,
        artifacts: ['art-1'],
        status: 'finished',
      })
      expect(statsOf(stored!)).toMatchObject({ failure: 1, success: 0, downloading: 0 })
      expect(await store.oldestActiveCreated(tenant)).toBeNull()
      const log = [{ timestamp: '2026-01-01T00:00:00.000Z', level: 'error', message: 'boom' }]
      expect(await store.findLog(tenant, row.id, 'd1')).toBeUndefined()
      await store.saveLog(tenant, row.id, 'd1', log)
      await store.saveLog(tenant, row.id, 'd1', [{ ...log[0]!, message: 'again' }])
      expect((await store.findLog(tenant, row.id, 'd1'))?.map((m) => m.message)).toEqual(['again'])
    })

    test('device deployments: inserted, found, updated; the poll lookup; the device history', async () => {
      const tenant = 'dd'
      const row = deployment(tenant, ['d1', 'd2'])
      await store.insertDeployment(row, ['d1', 'd2'])
      expect(await devices.pollLookup(tenant, 'd1', row.created.getTime())).toEqual({
        activeSeq: null,
        listed: true,
      })
      expect(await devices.pollLookup(tenant, 'd9', row.created.getTime())).toEqual({
        activeSeq: null,
        listed: false,
      })
      const seq = await devices.insert(deviceDeployment(row, 'd1'))
      expect(await devices.pollLookup(tenant, 'd1', row.created.getTime())).toEqual({
        activeSeq: seq,
        listed: true,
      })
      expect((await devices.findBySeq(seq))?.deviceId).toBe('d1')
      expect((await devices.findForDevice(tenant, row.id, 'd1'))?.seq).toBe(seq)
      expect(await devices.hadForDevice(tenant, row.id, 'd1')).toBe(true)
      expect(await devices.hadForDevice(tenant, row.id, 'd2')).toBe(false)
      await devices.saveRequest(seq, '["req"]')
      await devices.assignArtifact(seq, 'art-1')
      await devices.setLogAvailable(seq)
      await devices.updateStatus(seq, statusCode('downloading'), true, new Date(clock), 'fetching')
      expect(await devices.findBySeq(seq)).toMatchObject({
        request: '["req"]',
        artifactId: 'art-1',
        log: true,
        status: statusCode('downloading'),
        started: new Date(clock),
        finished: null,
        substate: 'fetching',
      })
      expect((await devices.listActiveForDevice(tenant, 'd1')).map((r) => r.seq)).toEqual([seq])
      await devices.updateStatus(seq, statusCode('success'), false, new Date(clock + 1))
      expect(await devices.findBySeq(seq)).toMatchObject({
        active: false,
        finished: new Date(clock + 1),
        substate: 'fetching',
      })
      expect(await devices.listActiveForDevice(tenant, 'd1')).toEqual([])
      const other = await devices.insert(deviceDeployment(row, 'd2'))
      expect(await devices.countByStatus(tenant, row.id)).toEqual(
        expect.arrayContaining([
          { status: statusCode('success'), n: 1 },
          { status: statusCode('pending'), n: 1 },
        ]),
      )
      const listed = await devices.listForDeployment(tenant, row.id, undefined)
      expect(listed.map((r) => r.deviceId)).toEqual(['d2', 'd1'])
      expect(
        (await devices.listForDeployment(tenant, row.id, [statusCode('success')])).map((r) => r.seq),
      ).toEqual([seq])
      expect(
        (await devices.listForDeployment(tenant, row.id, undefined, { offset: 1, limit: 1 })).map(
          (r) => r.seq,
        ),
      ).toEqual([seq])
      expect(await devices.countForDeployment(tenant, row.id, [statusCode('pending')])).toBe(1)
      await devices.abortActiveOfDeployment(tenant, row.id)
      expect((await devices.findBySeq(other))?.status).toBe(statusCode('aborted'))
      expect((await devices.listForDevice(tenant, 'd1', undefined, 0, 10)).map((r) => r.seq)).toEqual([seq])
      expect(await devices.countForDevice(tenant, 'd1', [statusCode('failure')])).toBe(0)
      await devices.deleteHistory(tenant, 'd1', new Date(clock + 2))
      expect((await devices.findBySeq(seq))?.deleted).toEqual(new Date(clock + 2))
      expect(await devices.findForDevice(tenant, row.id, 'd1')).toBeUndefined()
      expect(await devices.hadForDevice(tenant, row.id, 'd1')).toBe(true)
    })

    test('the deployments a device has not started: listed, newer than its last finished, with room', async () => {
      const tenant = 'unstarted'
      const older = deployment(tenant, ['d1'])
      const done = deployment(tenant, ['d1'])
      const newer = deployment(tenant, ['d1', 'd2'])
      const full = deployment(tenant, ['d1'], { deviceCount: 1 })
      const newest = deployment(tenant, ['d1', 'd2'])
      const notListed = deployment(tenant, ['d2'])
      for (const row of [older, done, newer, full, newest, notListed]) {
        await store.insertDeployment(row, row.id === notListed.id ? ['d2'] : ['d1'])
      }
      expect(await devices.unstartedDeployments(tenant, 'd1')).toEqual([
        older.id,
        done.id,
        newer.id,
        newest.id,
      ])
      const finished = await devices.insert(deviceDeployment(done, 'd1'))
      await devices.updateStatus(finished, statusCode('success'), false, new Date(clock))
      // Finished in `done`: what came before it is behind the device, what came after is not.
      expect(await devices.unstartedDeployments(tenant, 'd1')).toEqual([newer.id, newest.id])
      expect(await devices.firstUnstartedDeployment(tenant, 'd1')).toBe(newer.id)
      await devices.insert(deviceDeployment(newer, 'd1'))
      expect(await devices.unstartedDeployments(tenant, 'd1')).toEqual([newest.id])
      await store.setStatus(tenant, newest.id, 'finished', new Date(clock))
      expect(await devices.unstartedDeployments(tenant, 'd1')).toEqual([])
      expect(await devices.firstUnstartedDeployment(tenant, 'd1')).toBeUndefined()
    })

    test('a transaction commits together or not at all', async () => {
      const kept = deployment('tx', ['d1'])
      const dropped = deployment('tx', ['d1'])
      await store.transaction(() => {
        store.insertDeployment(kept, ['d1'])
      })
      expect(() =>
        store.transaction(() => {
          store.insertDeployment(dropped, ['d1'])
          throw new Error('the change failed')
        }),
      ).toThrow('the change failed')
      expect(await store.findDeployment('tx', kept.id)).toBeDefined()
      expect(await store.findDeployment('tx', dropped.id)).toBeUndefined()
    })
  })
}
