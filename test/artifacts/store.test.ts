import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createEventsStore } from '../../src/events/store.ts'
import { unwindDepends } from '../../src/services/artifacts/depends.ts'
import { type ArtifactRow, artifactBlobKey } from '../../src/services/artifacts/model.ts'
import { createReleasesStore } from '../../src/services/artifacts/store.releases.ts'
import { createArtifactsStore } from '../../src/services/artifacts/store.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { artifactsStoreContract } from './store.contract.ts'

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
})
afterAll(() => t.close())

function row(id: string, name: string, depends: ArtifactRow['depends'], tenantId = ''): ArtifactRow {
  const deviceTypes = ([] as string[]).concat(depends.device_type ?? [])
  return {
    id,
    tenantId,
    name,
    description: '',
    deviceTypes,
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [],
    provides: { artifact_name: name },
    depends,
    clearsProvides: null,
    size: 1024,
    modified: new Date(),
  }
}

function insert(r: ArtifactRow) {
  return t.deps.stores.artifacts.insertArtifact(r, unwindDepends(r.depends))
}

test('depends unwind into every combination, keys sorted', () => {
  expect(unwindDepends({ x: '1', device_type: ['a', 'b'], y: ['p', 'q'] })).toEqual([
    [
      ['device_type', 'a'],
      ['x', '1'],
      ['y', 'p'],
    ],
    [
      ['device_type', 'a'],
      ['x', '1'],
      ['y', 'q'],
    ],
    [
      ['device_type', 'b'],
      ['x', '1'],
      ['y', 'p'],
    ],
    [
      ['device_type', 'b'],
      ['x', '1'],
      ['y', 'q'],
    ],
  ])
  expect(() =>
    unwindDepends({ a: [...Array(64).keys()].map(String), b: [...Array(17).keys()].map(String) }),
  ).toThrow(/more than 1024 combinations/)
})

test('an artifact conflicts with one of the same name sharing a depends combination, and only then', async () => {
  expect(await insert(row('a1', 'app-1', { device_type: ['dev-a', 'dev-b'] }))).toEqual({ inserted: true })
  expect(await insert(row('a2', 'app-1', { device_type: ['dev-b', 'dev-c'] }))).toEqual({
    inserted: false,
    conflict: { device_type: 'dev-b' },
  })
  expect(await insert(row('a3', 'app-1', { device_type: ['dev-c'] }))).toEqual({ inserted: true })
  // Same device type, but an extra depend makes a different combination.
  expect(await insert(row('a4', 'app-1', { device_type: ['dev-a'], 'rootfs-image.version': 'v1' }))).toEqual({
    inserted: true,
  })
  expect(await insert(row('a5', 'app-2', { device_type: ['dev-a'] }))).toEqual({ inserted: true })
  expect(await insert(row('a6', 'app-1', { device_type: ['dev-a'] }, 'tenant-2'))).toEqual({ inserted: true })

  const store = t.deps.stores.artifacts
  expect((await store.findArtifactsByName('', 'app-1')).map((r) => r.id)).toEqual(['a1', 'a3', 'a4'])
  expect((await store.findArtifactsByName('tenant-2', 'app-1')).map((r) => r.id)).toEqual(['a6'])
  expect(await store.findArtifactById('', 'a2')).toBeUndefined()

  // Deleting an artifact frees its combinations.
  await store.deleteArtifact('', 'a1', new Date())
  expect(await insert(row('a7', 'app-1', { device_type: ['dev-b'] }))).toEqual({ inserted: true })
})

test('blob keys carry the tenant as a prefix', () => {
  expect(artifactBlobKey('', 'f6a1')).toBe('f6a1')
  expect(artifactBlobKey('tenant-1', 'f6a1')).toBe('tenant-1/f6a1')
})

artifactsStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return {
    artifacts: createArtifactsStore(db),
    releases: createReleasesStore(db),
    events: createEventsStore(db),
    close,
  }
})
