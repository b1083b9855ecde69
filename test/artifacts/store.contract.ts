import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventsStore } from '../../src/events/store.ts'
import { unwindDepends } from '../../src/services/artifacts/depends.ts'
import type { ArtifactRow } from '../../src/services/artifacts/model.ts'
import type { ReleasesStore } from '../../src/services/artifacts/store.releases.ts'
import type {
  ArtifactSort,
  ArtifactsStore,
  SettledIntent,
  UploadIntentRow,
} from '../../src/services/artifacts/store.ts'

export type ArtifactsContractTarget = {
  artifacts: ArtifactsStore
  releases: ReleasesStore
  /** The same database's events, to read what the artifacts store wrote to the outbox. */
  events: Pick<EventsStore, 'readAfter' | 'lastSeq'>
  close(): Promise<void>
}

export const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute))

let serial = 0
export function artifact(
  tenantId: string,
  name: string,
  deviceTypes: string[],
  extra: Partial<ArtifactRow> = {},
): ArtifactRow {
  serial++
  return {
    id: crypto.randomUUID(),
    tenantId,
    name,
    description: `artifact ${serial}`,
    deviceTypes,
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [{ type_info: { type: 'rootfs-image' }, files: [] }],
    provides: { artifact_name: name },
    depends: { device_type: deviceTypes },
    clearsProvides: null,
    size: 1000 + serial,
    modified: at(serial),
    ...extra,
  }
}

export const intent = (tenantId: string, status: UploadIntentRow['status'] = 'pending'): UploadIntentRow => ({
  id: crypto.randomUUID(),
  tenantId,
  status,
  createdTs: at(1),
  expiresTs: at(60),
  claimedBy: null,
  claimedUntil: null,
})

/**
 * The suite's target, opened before its tests and closed after them (call inside `describe`);
 * its stores are read when a test runs.
 */
export function openedTarget(open: () => Promise<ArtifactsContractTarget>): ArtifactsContractTarget {
  let target: ArtifactsContractTarget | undefined
  beforeAll(async () => {
    target = await open()
  })
  afterAll(() => target?.close())
  const current = () => {
    if (!target) throw new Error('the suite has not opened its target')
    return target
  }
  return {
    get artifacts() {
      return current().artifacts
    },
    get releases() {
      return current().releases
    },
    get events() {
      return current().events
    },
    close: async () => {},
  }
}

/**
 * What every engine's artifacts store promises; each engine's test file runs it
 * against a real database. Every call is awaited, so the suite holds for promise-returning stores.
 */
export function artifactsStoreContract(name: string, open: () => Promise<ArtifactsContractTarget>): void {
  describe(`${name} artifacts store`, () => {
    const target = openedTarget(open)

    const insert = (row: ArtifactRow, settles?: SettledIntent) =>
      target.artifacts.insertArtifact(row, unwindDepends(row.depends), settles)

    test('insert refuses a name and depends combination already taken; finds by name and id', async () => {
      const a = artifact('t1', 'app', ['dev-a', 'dev-b'])
      expect(await insert(a)).toEqual({ inserted: true })
      expect(await insert(artifact('t1', 'app', ['dev-b']))).toEqual({
        inserted: false,
        conflict: { device_type: 'dev-b' },
      })
      const b = artifact('t1', 'app', ['dev-c'])
      expect(await insert(b)).toEqual({ inserted: true })
      expect(await insert(artifact('t2', 'app', ['dev-a']))).toEqual({ inserted: true })
      expect((await target.artifacts.findArtifactsByName('t1', 'app')).map((r) => r.id)).toEqual([a.id, b.id])
      expect(await target.artifacts.findArtifactById('t1', a.id)).toEqual(a)
      expect(await target.artifacts.findArtifactById('t2', a.id)).toBeUndefined()
      expect(
        await target.artifacts.isCombinationTaken('t1', 'app', unwindDepends({ device_type: ['dev-c'] })),
      ).toBe(true)
      expect(
        await target.artifacts.isCombinationTaken('t1', 'app', unwindDepends({ device_type: ['dev-z'] })),
      ).toBe(false)
      expect(await target.artifacts.isIdTaken(a.id)).toBe(true)
      expect(await target.artifacts.isIdTaken(crypto.randomUUID())).toBe(false)
    })

    test('list with filters, sort and a window; count; storage usage', async () => {
      const tenant = 'list'
      const rows = [
        artifact(tenant, 'beta', ['dev-x'], { description: 'Second one' }),
        artifact(tenant, 'alpha', ['dev-y']),
        artifact(tenant, 'alphabet', ['dev-x', 'dev-z']),
      ]
      for (const row of rows) await insert(row)
      const byName: ArtifactSort = { by: 'name', order: 'asc' }
      const names = async (filter: Parameters<ArtifactsStore['listArtifacts']>[1], sort = byName) =>
        (await target.artifacts.listArtifacts(tenant, filter, sort)).map((r) => r.name)
      expect(await names({})).toEqual(['alpha', 'alphabet', 'beta'])
      expect(await names({}, { by: 'name', order: 'desc' })).toEqual(['beta', 'alphabet', 'alpha'])
      expect(await names({ name: { startsWith: 'alpha' } })).toEqual(['alpha', 'alphabet'])
      expect(await names({ name: { equals: 'alpha' } })).toEqual(['alpha'])
      expect(await names({ names: ['beta', 'alpha'] })).toEqual(['alpha', 'beta'])
      expect(await names({ description: { containsAnyCase: 'SECOND' } })).toEqual(['beta'])
      expect(await names({ deviceType: { equals: 'dev-x' } })).toEqual(['alphabet', 'beta'])
      const window = await target.artifacts.listArtifacts(tenant, {}, byName, { offset: 1, limit: 1 })
      expect(window.map((r) => r.name)).toEqual(['alphabet'])
      expect(await target.artifacts.countArtifacts(tenant, { deviceType: { equals: 'dev-x' } })).toBe(2)
      expect(await target.artifacts.storageUsage(tenant)).toBe(rows.reduce((sum, r) => sum + r.size, 0))
      expect(await target.artifacts.storageUsage('empty')).toBe(0)
    })

    test('names sort by code point and match case-insensitively in ASCII only, whatever the collation', async () => {
      const tenant = 'case'
      for (const [name, types] of [
        ['beta', ['Dev-Q']],
        ['Alpha', ['dev-q']],
        ['alpha', ['dev-r']],
        ['\u00c9clair', ['dev-r']],
        ['zeta', ['DEV-Q', 'x']],
        ['a-1', ['dev-s']],
        ['a_1', ['dev-s']],
      ] as const) {
        await insert(artifact(tenant, name, [...types]))
      }
      const byName: ArtifactSort = { by: 'name', order: 'asc' }
      const names = async (filter: Parameters<ArtifactsStore['listArtifacts']>[1], sort = byName) =>
        (await target.artifacts.listArtifacts(tenant, filter, sort)).map((r) => r.name)
      const codePointOrder = ['Alpha', 'a-1', 'a_1', 'alpha', 'beta', 'zeta', '\u00c9clair']
      expect(await names({})).toEqual(codePointOrder)
      expect(await names({}, { by: 'name', order: 'desc' })).toEqual([...codePointOrder].reverse())
      expect(await names({ name: { containsAnyCase: 'LPH' } })).toEqual(['Alpha', 'alpha'])
      expect(await names({ name: { startsWithAnyCase: 'aL' } })).toEqual(['Alpha', 'alpha'])
      expect(await names({ name: { startsWith: 'al' } })).toEqual(['alpha'])
      expect(await names({ name: { startsWith: 'A' } })).toEqual(['Alpha'])
      // É is not an ASCII letter: it matches itself only, as SQLite's lower() leaves it.
      expect(await names({ name: { containsAnyCase: '\u00c9CL' } })).toEqual(['\u00c9clair'])
      expect(await names({ name: { containsAnyCase: '\u00e9cl' } })).toEqual([])
      expect(await names({ deviceType: { containsAnyCase: 'dev-Q' } })).toEqual(['Alpha', 'beta', 'zeta'])
      expect(await names({ deviceType: { startsWithAnyCase: 'DEV-' } })).toHaveLength(7)
      expect(await names({ deviceType: { equals: 'dev-q' } })).toEqual(['Alpha'])
      expect(await names({ deviceType: { startsWith: 'DEV' } })).toEqual(['zeta'])
      expect(await target.artifacts.countArtifacts(tenant, { name: { containsAnyCase: 'L' } })).toBe(3)
    })

    test('sorting by modified, ties broken by id the same way in both directions', async () => {
      const tenant = 'when'
      const ids = ['00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001']
      const rows = [
        artifact(tenant, 'late', ['d'], { modified: at(300) }),
        artifact(tenant, 'early', ['d'], { modified: at(100) }),
        artifact(tenant, 'tie-b', ['d'], { modified: at(200), id: ids[0] }),
        artifact(tenant, 'tie-a', ['d'], { modified: at(200), id: ids[1] }),
      ]
      for (const row of rows) await insert(row)
      const list = async (order: 'asc' | 'desc', window?: { offset: number; limit: number }) =>
        (await target.artifacts.listArtifacts(tenant, {}, { by: 'modified', order }, window)).map(
          (r) => r.name,
        )
      expect(await list('asc')).toEqual(['early', 'tie-a', 'tie-b', 'late'])
      expect(await list('desc')).toEqual(['late', 'tie-b', 'tie-a', 'early'])
      expect(await list('desc', { offset: 1, limit: 2 })).toEqual(['tie-b', 'tie-a'])
      expect(await list('asc', { offset: 4, limit: 2 })).toEqual([])
    })

    test('description edits; deleting one artifact or whole releases frees their combinations', async () => {
      const a = artifact('del', 'gone', ['dev-a'])
      const b = artifact('del', 'gone', ['dev-b'])
      const c = artifact('del', 'other', ['dev-a'])
      for (const row of [a, b, c]) await insert(row)
      expect(await target.artifacts.updateDescription('del', a.id, 'new text', at(90))).toBe(true)
      expect(await target.artifacts.findArtifactById('del', a.id)).toMatchObject({
        description: 'new text',
        modified: at(90),
      })
      expect(await target.artifacts.updateDescription('del', crypto.randomUUID(), 'x', at(90))).toBe(false)
      expect((await target.artifacts.deleteArtifact('del', a.id, at(91)))?.id).toBe(a.id)
      expect(await target.artifacts.deleteArtifact('del', a.id, at(91))).toBeUndefined()
      expect(await insert(artifact('del', 'gone', ['dev-a']))).toEqual({ inserted: true })
      const deleted = await target.artifacts.deleteArtifactsByNames('del', ['gone', 'other'])
      expect(deleted.map((r) => r.id)).toContain(b.id)
      expect(deleted).toHaveLength(3)
      expect(await target.artifacts.findArtifactsByName('del', 'gone')).toEqual([])
      expect(
        await target.releases.listReleases('del', {}, { by: 'name', order: 'asc' }, { offset: 0, limit: 10 }),
      ).toEqual([])
    })

    test('direct uploads: recorded, found, moved between statuses, listed, settled by their artifact', async () => {
      const pending = intent('up')
      const other = intent('up')
      await target.artifacts.insertUploadIntent(pending)
      await target.artifacts.insertUploadIntent(other)
      expect(await target.artifacts.findUploadIntent('up', pending.id)).toEqual(pending)
      expect(await target.artifacts.findUploadIntent('elsewhere', pending.id)).toBeUndefined()
      expect(await target.artifacts.isIdTaken(pending.id)).toBe(true)
      expect(await target.artifacts.setUploadIntentStatus('up', pending.id, 'processing', 'pending')).toBe(
        false,
      )
      const claim = { owner: 'instance-1', until: at(30) }
      expect(
        await target.artifacts.setUploadIntentStatus('up', pending.id, 'pending', 'processing', claim),
      ).toBe(true)
      expect(await target.artifacts.findUploadIntent('up', pending.id)).toEqual({
        ...pending,
        status: 'processing',
        claimedBy: 'instance-1',
        claimedUntil: at(30),
      })
      const processing = (await target.artifacts.listUploadIntents('processing')).map((i) => i.id)
      expect(processing).toContain(pending.id)
      expect(processing).not.toContain(other.id)
      const row = artifact('up', 'direct', ['dev-a'], { id: pending.id })
      // Only the claim's owner settles it.
      expect(await insert(row, { id: pending.id, owner: 'instance-2' })).toEqual({
        inserted: false,
        lost: true,
      })
      expect(await target.artifacts.findArtifactById('up', pending.id)).toBeUndefined()
      expect(await insert(row, { id: pending.id, owner: 'instance-1' })).toEqual({ inserted: true })
      expect(await target.artifacts.findUploadIntent('up', pending.id)).toBeUndefined()
      await target.artifacts.deleteUploadIntent('up', other.id)
      expect(await target.artifacts.findUploadIntent('up', other.id)).toBeUndefined()
    })

    test('an artifact id is claimed once, by whichever upload comes first; the claim settles with its artifact', async () => {
      const id = crypto.randomUUID()
      const one = { owner: 'instance-1', until: at(30) }
      const two = { owner: 'instance-2', until: at(30) }
      expect(await target.artifacts.claimArtifactId('ids', id, one, at(1))).toBe(true)
      expect(await target.artifacts.claimArtifactId('ids', id, two, at(1))).toBe(false)
      expect(await target.artifacts.claimArtifactId('other-tenant', id, two, at(1))).toBe(false)
      expect(await target.artifacts.findUploadIntent('ids', id)).toMatchObject({
        status: 'uploading',
        claimedBy: 'instance-1',
      })
      expect(await target.artifacts.isIdTaken(id)).toBe(true)
      expect(await target.artifacts.releaseUploadClaim('ids', id, 'instance-2')).toBe(false)
      expect(await target.artifacts.releaseUploadClaim('ids', id, 'instance-1')).toBe(true)
      expect(await target.artifacts.isIdTaken(id)).toBe(false)
      // Claimed again, then recorded: the artifact keeps the id from any later claim.
      expect(await target.artifacts.claimArtifactId('ids', id, two, at(2))).toBe(true)
      expect(
        await insert(artifact('ids', 'claimed', ['dev-a'], { id }), { id, owner: 'instance-2' }),
      ).toEqual({
        inserted: true,
      })
      expect(await target.artifacts.findUploadIntent('ids', id)).toBeUndefined()
      expect(await target.artifacts.claimArtifactId('ids', id, one, at(3))).toBe(false)
      expect(await target.artifacts.findUploadIntent('ids', id)).toBeUndefined()
      // A direct upload's id is taken too.
      const direct = intent('ids')
      await target.artifacts.insertUploadIntent(direct)
      expect(await target.artifacts.claimArtifactId('ids', direct.id, one, at(3))).toBe(false)
      expect(await target.artifacts.findUploadIntent('ids', direct.id)).toEqual(direct)
    })

    test('claims are renewed by their owner, and taken over once when they run out', async () => {
      const tenant = `claims-${crypto.randomUUID()}`
      const dead = intent(tenant, 'pending')
      const live = intent(tenant, 'pending')
      const unclaimed = intent(tenant, 'processing')
      const waiting = intent(tenant, 'pending')
      for (const row of [dead, live, unclaimed, waiting]) await target.artifacts.insertUploadIntent(row)
      await target.artifacts.setUploadIntentStatus(tenant, dead.id, 'pending', 'processing', {
        owner: 'dead',
        until: at(10),
      })
      await target.artifacts.setUploadIntentStatus(tenant, live.id, 'pending', 'processing', {
        owner: 'live',
        until: at(10),
      })
      const uploading = crypto.randomUUID()
      expect(
        await target.artifacts.claimArtifactId(tenant, uploading, { owner: 'dead', until: at(10) }, at(1)),
      ).toBe(true)
      expect(await target.artifacts.renewUploadClaims('live', at(100))).toEqual([live.id])
      expect(
        await target.artifacts.renewUploadClaim(tenant, live.id, { owner: 'dead', until: at(100) }),
      ).toBe(false)
      expect(
        await target.artifacts.renewUploadClaim(tenant, live.id, { owner: 'live', until: at(110) }),
      ).toBe(true)

      const taken = (await target.artifacts.takeStaleUploadClaims({ owner: 'new', until: at(200) }, at(50)))
        .filter((row) => row.tenantId === tenant)
        .map((row) => [row.id, row.status, row.claimedBy, row.claimedUntil])
      expect(taken.sort()).toEqual(
        [
          [dead.id, 'processing', 'new', at(200)],
          [unclaimed.id, 'processing', 'new', at(200)],
          [uploading, 'uploading', 'new', at(200)],
        ].sort(),
      )
      // Taken once: the new claims are live, and the old owner can no longer settle or renew.
      const again = await target.artifacts.takeStaleUploadClaims({ owner: 'other', until: at(200) }, at(60))
      expect(again.filter((row) => row.tenantId === tenant)).toEqual([])
      expect(await target.artifacts.renewUploadClaims('dead', at(300))).toEqual([])
      expect(await target.artifacts.refuseUploadIntent(tenant, dead.id, 'late', 'dead')).toBe(false)
      expect(await target.artifacts.releaseUploadClaim(tenant, uploading, 'dead')).toBe(false)
      expect((await target.artifacts.findUploadIntent(tenant, waiting.id))?.claimedBy).toBeNull()
      // A claim given up (moved to the past) is taken at the next look.
      await target.artifacts.renewUploadClaims('live', new Date(0))
      const given = await target.artifacts.takeStaleUploadClaims({ owner: 'new', until: at(200) }, at(60))
      expect(given.filter((row) => row.tenantId === tenant).map((row) => row.id)).toEqual([live.id])
      expect(await target.artifacts.refuseUploadIntent(tenant, dead.id, 'checked', 'new')).toBe(true)
    })

    test('a refused direct upload is forgotten and its reason written as an event of its tenant', async () => {
      const refused = intent('up')
      await target.artifacts.insertUploadIntent(refused)
      const before = await target.events.lastSeq()
      await target.artifacts.refuseUploadIntent('up', refused.id, 'the artifact is broken')
      expect(await target.artifacts.findUploadIntent('up', refused.id)).toBeUndefined()
      expect(await target.artifacts.isIdTaken(refused.id)).toBe(false)
      const events = await target.events.readAfter(before, 10)
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({
        tenantId: 'up',
        type: 'artifact-upload-refused',
        subject: refused.id,
        data: { id: refused.id, reason: 'the artifact is broken' },
      })
    })
  })
}
