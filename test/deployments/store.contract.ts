import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Clock } from '../../src/clock.ts'
import type { Ids } from '../../src/ids.ts'
import type { ArtifactRow } from '../../src/services/artifacts/model.ts'
import type { PickUp } from '../../src/services/deployments/pickup.ts'
import { emptyStats, statusCode } from '../../src/services/deployments/status.ts'
import type { DeploymentRow } from '../../src/services/deployments/store.deployments.ts'
import type { PhaseRow } from '../../src/services/deployments/store.rollout.ts'
import { statsOf, statValues } from '../../src/services/deployments/store.stats.ts'
import type { DeploymentsStore } from '../../src/services/deployments/store.ts'

export type DeploymentsContractTarget = {
  store: DeploymentsStore
  /** The types of the events written about `subject` (a deployment or device id), oldest first. */
  eventTypes(subject: string): Promise<string[]>
  close(): Promise<void>
}

/** The suite's clock: the store reads it for the times it records, the suite moves it. */
let now = Date.UTC(2026, 0, 1)
const clock: Clock = { now: () => new Date(now) }
const ids: Ids = { uuid: () => crypto.randomUUID() }
const advance = (ms: number) => {
  now += ms
}

function deployment(tenantId: string, deviceIds: readonly string[], extra: Partial<DeploymentRow> = {}) {
  const row: DeploymentRow = {
    id: crypto.randomUUID(),
    tenantId,
    name: 'rollout',
    artifactName: 'app-1',
    created: clock.now(),
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
    phaseCount: 0,
    openPhases: 1,
    retries: 0,
    policy: null,
    pausedAt: null,
    pauseReason: null,
    gateTripped: false,
    dynamic: false,
    filter: null,
    initialDeviceCount: deviceIds.length,
    ...extra,
  }
  return row
}

function artifact(name: string, size = 500): ArtifactRow {
  return {
    id: crypto.randomUUID(),
    tenantId: '',
    name,
    description: '',
    deviceTypes: ['dev-a'],
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [],
    provides: null,
    depends: { device_type: ['dev-a'] },
    clearsProvides: null,
    size,
    modified: clock.now(),
  }
}

function phase(row: DeploymentRow, idx: number, start: Date, size: number): PhaseRow {
  return {
    ...{ tenantId: row.tenantId, deploymentId: row.id, idx, id: crypto.randomUUID() },
    ...{ batchSize: null, batchSizeDevices: size, startTs: start, size, deviceCount: 0, opened: null },
    ...{ finished: 0, failed: 0, succeeded: 0, held: false },
  }
}

const NO_PHASES = { phases: [], openFirst: true }

/**
 * What every engine's deployments store promises; each engine's test file runs it against a real
 * database. Every call is awaited, and every method of the store is exercised.
 */
export function deploymentsStoreContract(
  name: string,
  open: (parts: { clock: Clock; ids: Ids }) => Promise<DeploymentsContractTarget>,
): void {
  describe(`${name} deployments store`, () => {
    let target: DeploymentsContractTarget
    let store: DeploymentsStore
    beforeAll(async () => {
      target = await open({ clock, ids })
      store = target.store
    })
    afterAll(() => target.close())

    /** Makes a plain deployment of these devices; answers it as stored. */
    async function make(tenantId: string, deviceIds: string[], extra: Partial<DeploymentRow> = {}) {
      const made = await store.createDeployment(deployment(tenantId, deviceIds, extra), deviceIds, NO_PHASES)
      if (!made) throw new Error('an identical deployment is active')
      return made
    }

    /** The device picks up its next deployment, as the service does: read, then pick up. */
    async function pickUp(tenantId: string, deviceId: string, extra: Partial<PickUp> = {}) {
      const next = await store.findNext(tenantId, deviceId)
      if (!next) return undefined
      const { deployment, active } = next
      return store.pickUp({
        tenantId,
        deviceId,
        deploymentId: deployment.id,
        seen: active ? { seq: active.seq, artifactId: active.artifactId } : null,
        requestKey: '["factory","dev-a"]',
        runningArtifact: 'factory',
        assigned: active?.artifactId == null,
        ...extra,
      })
    }

    const statusOf = async (tenantId: string, deploymentId: string, deviceId: string) =>
      (await store.listForDeployment(tenantId, deploymentId, undefined)).find((r) => r.deviceId === deviceId)
        ?.status

    test('deployments: made once while active, created strictly later; found, listed, counted', async () => {
      const tenant = 'dep'
      const first = await make(tenant, ['d2', 'd1'], { name: 'first' })
      const twin = deployment(tenant, ['d1'], { checksum: first.checksum })
      expect(await store.createDeployment(twin, ['d1'], NO_PHASES)).toBeUndefined()
      // Made at the same clock time: its creation time still comes after the first's.
      const second = await make(tenant, ['d3'], { name: 'second', artifactName: 'app-2' })
      expect(second.created.getTime()).toBeGreaterThan(first.created.getTime())
      expect(await store.findDeployment(tenant, first.id)).toEqual(first)
      expect(await store.findDeployment('other', first.id)).toBeUndefined()
      // In the order given, not sorted.
      expect(await store.listDeviceIds(tenant, first.id)).toEqual(['d2', 'd1'])
      const names = async (query: Parameters<DeploymentsStore['listDeployments']>[1]) =>
        (await store.listDeployments(tenant, query, 0, 10)).map((d) => d.name)
      expect(await names({ sort: 'desc' })).toEqual(['second', 'first'])
      expect(await names({ sort: 'asc' })).toEqual(['first', 'second'])
      expect(await names({ sort: 'asc', names: ['second'] })).toEqual(['second'])
      expect(await names({ sort: 'asc', search: 'APP-2' })).toEqual(['second'])
      expect(await names({ sort: 'asc', forDevice: 'd1' })).toEqual(['first'])
      expect(await names({ sort: 'asc', createdAfter: new Date(first.created.getTime() + 1) })).toEqual([
        'second',
      ])
      expect((await store.listDeployments(tenant, { sort: 'asc' }, 1, 1)).map((d) => d.name)).toEqual([
        'second',
      ])
      expect(await store.countDeployments(tenant, { sort: 'asc', status: 'pending' })).toBe(2)
      const found = await store.findDeploymentsByIds(tenant, [second.id, first.id, crypto.randomUUID()])
      expect(found.map((d) => d.id).sort()).toEqual([first.id, second.id].sort())
      expect(await store.activeDeploymentIds(tenant, ['app-2'])).toEqual([second.id])
      expect(await store.activeDeploymentIds(tenant, [])).toEqual([])
      expect(await store.usesArtifactName(tenant, 'app-1')).toBe(true)
      expect(await store.usesArtifactName(tenant, 'app-9')).toBe(false)
    })

    test('the poll: a pick-up, status reports moving the counts to the end, logs, the history', async () => {
      const tenant = 'poll'
      expect(await store.findNext(tenant, 'd1')).toBeUndefined()
      const row = await make(tenant, ['d1', 'd2'])
      expect(await store.findNext(tenant, 'd1')).toEqual({ deployment: row, active: undefined, phase: 0 })
      expect(await store.findNext(tenant, 'd9')).toBeUndefined()
      const app = artifact('app-1')
      expect(await pickUp(tenant, 'd1', { artifact: app })).toEqual({
        kind: 'deploy',
        deploymentId: row.id,
        artifact: app,
      })
      const active = (await store.findNext(tenant, 'd1'))?.active
      expect(active).toMatchObject({ deviceId: 'd1', artifactId: app.id, status: statusCode('pending') })
      // A pick-up read before the first one landed is stale; the same request again is answered alike.
      expect(await store.pickUp({ ...(await pickUpInput(tenant, 'd1')), seen: null })).toEqual({
        kind: 'stale',
      })
      expect(await pickUp(tenant, 'd1', { artifact: app, assigned: false })).toMatchObject({ kind: 'deploy' })
      expect(await store.reportStatus(tenant, 'd1', row.id, 'downloading')).toBe('done')
      expect(await store.reportStatus(tenant, 'd1', row.id, 'downloading')).toBe('done')
      expect(await store.reportStatus(tenant, 'd1', row.id, 'success', 'done')).toBe('done')
      expect(await store.reportStatus(tenant, 'd9', row.id, 'success')).toBe('not-found')
      // d2 already runs the artifact: nothing to install, and the deployment is over.
      expect(await pickUp(tenant, 'd2', { artifact: app, runningArtifact: 'app-1' })).toEqual({
        kind: 'none',
      })
      const after = await store.findDeployment(tenant, row.id)
      expect(after).toMatchObject({ deviceCount: 2, totalSize: 500, status: 'finished', artifacts: [app.id] })
      expect(statsOf(after!)).toMatchObject({ pending: 0, success: 1, 'already-installed': 1 })
      expect(await store.findNext(tenant, 'd1')).toBeUndefined()
      expect(await target.eventTypes(row.id)).toEqual([
        'deployment-created',
        'deployment-status-changed',
        'deployment-finished',
      ])
      expect(await target.eventTypes('d1')).toEqual(Array(3).fill('device-deployment-status-changed'))

      expect(await store.findLog(tenant, row.id, 'd1')).toBeUndefined()
      const log = [{ timestamp: '2026-01-01T00:00:00.000Z', level: 'error', message: 'boom' }]
      expect(await store.saveLog(tenant, row.id, 'd1', log)).toBe(true)
      expect(await store.saveLog(tenant, row.id, 'd1', [{ ...log[0]!, message: 'again' }])).toBe(true)
      expect(await store.saveLog(tenant, row.id, 'd9', log)).toBe(false)
      expect((await store.findLog(tenant, row.id, 'd1'))?.map((m) => m.message)).toEqual(['again'])

      const listed = await store.listForDeployment(tenant, row.id, undefined)
      expect(listed.map((r) => [r.deviceId, r.status, r.log])).toEqual([
        ['d1', statusCode('success'), true],
        ['d2', statusCode('already-installed'), false],
      ])
      expect(
        (await store.listForDeployment(tenant, row.id, undefined, { offset: 1, limit: 1 })).map(
          (r) => r.deviceId,
        ),
      ).toEqual(['d2'])
      expect(await store.countForDeployment(tenant, row.id, [statusCode('success')])).toBe(1)
      expect((await store.listForDevice(tenant, 'd1', undefined, 0, 10)).map((r) => r.substate)).toEqual([
        'done',
      ])
      expect(await store.countForDevice(tenant, 'd1', [statusCode('failure')])).toBe(0)
    })

    /** What the service would send for the device's candidate now. */
    async function pickUpInput(tenantId: string, deviceId: string): Promise<PickUp> {
      const next = await store.findNext(tenantId, deviceId)
      if (!next) throw new Error('no candidate')
      return {
        tenantId,
        deviceId,
        deploymentId: next.deployment.id,
        seen: next.active ? { seq: next.active.seq, artifactId: next.active.artifactId } : null,
        requestKey: '["factory","dev-a"]',
        runningArtifact: 'factory',
        assigned: false,
      }
    }

    test('a pick-up without an artifact is noartifact; a changed request is a conflict that fails it', async () => {
      const tenant = 'pick'
      const none = await make(tenant, ['d1'])
      expect(await pickUp(tenant, 'd1', { artifact: undefined })).toEqual({ kind: 'none' })
      expect(await statusOf(tenant, none.id, 'd1')).toBe(statusCode('noartifact'))
      const row = await make(tenant, ['d2'])
      expect(await pickUp(tenant, 'd2', { artifact: artifact('app-1') })).toMatchObject({ kind: 'deploy' })
      expect(await pickUp(tenant, 'd2', { requestKey: '["other","dev-a"]', assigned: false })).toEqual({
        kind: 'conflict',
      })
      expect(await statusOf(tenant, row.id, 'd2')).toBe(statusCode('failure'))
    })

    test('retries: a failure with attempts left is pending again', async () => {
      const tenant = 'retry'
      const row = await make(tenant, ['d1'], { retries: 1 })
      await pickUp(tenant, 'd1', { artifact: artifact('app-1') })
      expect(await store.reportStatus(tenant, 'd1', row.id, 'failure')).toBe('done')
      expect((await store.listForDeployment(tenant, row.id, undefined))[0]).toMatchObject({
        status: statusCode('pending'),
        attempts: 2,
      })
      expect(await store.reportStatus(tenant, 'd1', row.id, 'failure')).toBe('done')
      expect(await store.findDeployment(tenant, row.id)).toMatchObject({ status: 'finished' })
    })

    test('ending a device: its active and unstarted deployments, once; the history deleted', async () => {
      const tenant = 'end'
      const picked = await make(tenant, ['d1'])
      await pickUp(tenant, 'd1', { artifact: artifact('app-1') })
      const waiting = await make(tenant, ['d1', 'd2'])
      const other = await make(tenant, ['d2'])
      expect(await store.unstartedDeployments(tenant, 'd1')).toEqual([{ id: waiting.id, phase: 0 }])
      await store.endForDevice(tenant, 'd1', 'decommissioned')
      await store.endForDevice(tenant, 'd1', 'decommissioned')
      expect(await statusOf(tenant, picked.id, 'd1')).toBe(statusCode('decommissioned'))
      expect(await statusOf(tenant, waiting.id, 'd1')).toBe(statusCode('decommissioned'))
      expect(await store.countForDevice(tenant, 'd1', undefined)).toBe(2)
      expect(statsOf((await store.findDeployment(tenant, waiting.id))!)).toMatchObject({
        pending: 1,
        decommissioned: 1,
      })
      expect(await store.unstartedDeployments(tenant, 'd1')).toEqual([])
      expect(await store.reportStatus(tenant, 'd1', picked.id, 'success')).toBe('decommissioned')
      expect(await store.findNext(tenant, 'd1')).toBeUndefined()
      // Aborting d2 ends both of its deployments.
      await store.endForDevice(tenant, 'd2', 'aborted')
      expect(await statusOf(tenant, other.id, 'd2')).toBe(statusCode('aborted'))
      expect(await store.reportStatus(tenant, 'd2', other.id, 'success')).toBe('aborted')
      // Its history deleted, d1 may get the deployment it was listed in and that is still active.
      await store.endForDevice(tenant, 'd2', 'aborted')
      await store.deleteHistory(tenant, 'd1', clock.now())
      expect(
        (await store.listForDevice(tenant, 'd1', undefined, 0, 10)).every((r) => r.deleted !== null),
      ).toBe(true)
    })

    test('pause, resume and abort by hand, with the reasons they are refused', async () => {
      const tenant = 'change'
      const row = await make(tenant, ['d1', 'd2'])
      expect(await store.changeStatus(tenant, crypto.randomUUID(), { status: 'aborted' })).toBe('not-found')
      expect(await store.changeStatus(tenant, row.id, { status: 'resumed', override: false })).toBe(
        'not-paused',
      )
      expect(await store.changeStatus(tenant, row.id, { status: 'paused', reason: 'look first' })).toBe(
        'done',
      )
      expect(await store.changeStatus(tenant, row.id, { status: 'paused', reason: 'again' })).toBe(
        'already-paused',
      )
      // Paused: no device that has not started gets it.
      expect(await store.findNext(tenant, 'd1')).toBeUndefined()
      expect(await store.changeStatus(tenant, row.id, { status: 'resumed', override: false })).toBe('done')
      expect((await store.findNext(tenant, 'd1'))?.deployment.id).toBe(row.id)
      await pickUp(tenant, 'd1', { artifact: artifact('app-1') })
      expect(await store.changeStatus(tenant, row.id, { status: 'aborted' })).toBe('done')
      expect(await store.changeStatus(tenant, row.id, { status: 'aborted' })).toBe('finished')
      const aborted = await store.findDeployment(tenant, row.id)
      // Recounted from its device deployments: d2 never asked and drops out.
      expect(statsOf(aborted!)).toMatchObject({ aborted: 1, pending: 0 })
      expect((await store.listLog(tenant, row.id)).map((entry) => entry.kind)).toEqual(['paused', 'resumed'])
    })

    test('phases open when due; a device in flight too long times out and trips the failure gate', async () => {
      const tenant = 'phases'
      const start = clock.now()
      const policy = { failure_gate: { percent: 10 }, inflight_timeout: 60 }
      const row = deployment(tenant, ['d1', 'd2'], {
        phaseCount: 2,
        openPhases: 1,
        status: 'pending',
        policy,
      })
      const later = new Date(start.getTime() + 3_600_000)
      const made = await store.createDeployment(row, ['d1', 'd2'], {
        devicePhases: [0, 1],
        phases: [phase(row, 0, start, 1), phase(row, 1, later, 1)],
        openFirst: true,
      })
      expect(made).toMatchObject({ status: 'pending', openPhases: 1 })
      expect((await store.listPhases(tenant, row.id)).map((p) => p.opened !== null)).toEqual([true, false])
      expect(await store.duePhases(clock.now(), 10)).toEqual([])
      // d2 is in the second phase: nothing for it yet.
      expect(await store.findNext(tenant, 'd2')).toBeUndefined()
      advance(2 * 3_600_000)
      const due = await store.duePhases(clock.now(), 10)
      expect(due.map((p) => [p.deploymentId, p.idx])).toEqual([[row.id, 1]])
      expect(await store.openDuePhase(due[0]!)).toBe(true)
      expect(await store.openDuePhase(due[0]!)).toBe(false)
      expect((await store.findNext(tenant, 'd2'))?.phase).toBe(1)

      await pickUp(tenant, 'd1', { artifact: artifact('app-1') })
      await store.reportStatus(tenant, 'd1', row.id, 'downloading')
      expect(await store.overdueInFlight(clock.now(), 10)).toEqual([])
      advance(61_000)
      const overdue = await store.overdueInFlight(clock.now(), 10)
      expect(overdue).toEqual([expect.objectContaining({ tenantId: tenant, deploymentId: row.id, phase: 0 })])
      await store.timeOut(overdue[0]!)
      // Timed out once: a second call (another instance's, say) counts nothing more.
      await store.timeOut(overdue[0]!)
      expect(await store.overdueInFlight(clock.now(), 10)).toEqual([])
      const tripped = await store.findDeployment(tenant, row.id)
      expect(tripped).toMatchObject({ gateTripped: true })
      expect(tripped?.pausedAt).not.toBeNull()
      const refused = await store.changeStatus(tenant, row.id, { status: 'resumed', override: false })
      expect(refused).toEqual({ tripped: expect.stringContaining('failure gate') })
      expect(await store.changeStatus(tenant, row.id, { status: 'resumed', override: true })).toBe('done')
      expect((await store.listLog(tenant, row.id)).map((entry) => entry.kind)).toEqual([
        'phase-opened',
        'phase-opened',
        'paused',
        'resumed',
      ])
      expect((await store.listPhases(tenant, row.id))[0]).toMatchObject({
        finished: 1,
        failed: 1,
        deviceCount: 1,
      })
    })

    test('dynamic deployments: listed while active; devices join once, in the last phase', async () => {
      const tenant = 'dynamic'
      const filter = { id: 'f1', name: 'all', terms: [] }
      const row = await make(tenant, [], { dynamic: true, maxDevices: 0, target: 'filter', filter })
      await make(tenant, ['d1'])
      expect((await store.activeDynamic(tenant)).map((d) => d.id)).toEqual([row.id])
      expect(await store.joinDynamic(tenant, row.id, ['d6', 'd5'])).toBe(2)
      expect(await store.joinDynamic(tenant, row.id, ['d5', 'd7'])).toBe(1)
      expect(await store.listDeviceIds(tenant, row.id)).toEqual(['d6', 'd5', 'd7'])
      expect(statsOf((await store.findDeployment(tenant, row.id))!).pending).toBe(3)
      expect(await store.joinDynamic(tenant, crypto.randomUUID(), ['d8'])).toBe(0)
      await store.changeStatus(tenant, row.id, { status: 'aborted' })
      expect(await store.joinDynamic(tenant, row.id, ['d8'])).toBe(0)
      expect(await store.activeDynamic(tenant)).toEqual([])
    })

    test('configuration deployments: one device, refused when the id is taken', async () => {
      const tenant = 'config'
      const row = deployment(tenant, ['d1'], { type: 'configuration', configuration: { key: 'value' } })
      expect(await store.createConfigurationDeployment(row, 'd1')).toBe(true)
      expect(await store.createConfigurationDeployment({ ...row, checksum: 'other' }, 'd1')).toBe(false)
      expect(await pickUp(tenant, 'd1')).toEqual({
        kind: 'configure',
        deployment: expect.objectContaining({ id: row.id }),
      })
    })
  })
}
