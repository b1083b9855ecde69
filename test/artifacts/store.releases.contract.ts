import { describe, expect, test } from 'bun:test'
import { unwindDepends } from '../../src/services/artifacts/depends.ts'
import type { ArtifactRow } from '../../src/services/artifacts/model.ts'
import type { ReleaseSort, ReleasesStore } from '../../src/services/artifacts/store.releases.ts'
import { type ArtifactsContractTarget, artifact, at, openedTarget } from './store.contract.ts'

const page = { offset: 0, limit: 100 }
const byName: ReleaseSort = { by: 'name', order: 'asc' }
const payload = (type: string | null) => ({ type_info: { type }, files: [] })

/**
 * What every engine's releases store promises, listings sorted and filtered alike whatever the
 * database's collation; each engine's test file runs it against a real database.
 */
export function releasesStoreContract(name: string, open: () => Promise<ArtifactsContractTarget>): void {
  describe(`${name} releases store`, () => {
    const target = openedTarget(open)

    const insert = (row: ArtifactRow) => target.artifacts.insertArtifact(row, unwindDepends(row.depends))
    const names = async (
      tenant: string,
      filter: Parameters<ReleasesStore['listReleases']>[1],
      sort = byName,
    ) => (await target.releases.listReleases(tenant, filter, sort, page)).map((r) => r.name)

    test('one per name, listed and counted with filters, their artifacts, notes and tags', async () => {
      const tenant = 'rel'
      const one = artifact(tenant, 'one', ['dev-a'], { modified: at(100) })
      const two = artifact(tenant, 'two', ['dev-b'], { modified: at(101), description: 'Has Notes' })
      const twoMore = artifact(tenant, 'two', ['dev-c'], { modified: at(102) })
      for (const row of [one, two, twoMore]) await insert(row)
      const listed = await target.releases.listReleases(tenant, {}, byName, page)
      expect(listed.map((r) => [r.name, r.artifactsCount])).toEqual([
        ['one', 1],
        ['two', 2],
      ])
      expect(listed[1]).toEqual({
        tenantId: tenant,
        name: 'two',
        modified: at(102),
        tags: [],
        notes: '',
        artifactsCount: 2,
      })
      expect(await names(tenant, { name: { containsAnyCase: 'TW' } })).toEqual(['two'])
      expect(await names(tenant, { names: ['one'] })).toEqual(['one'])
      expect(await names(tenant, { description: 'has notes' })).toEqual(['two'])
      expect(await names(tenant, { deviceType: 'dev-c' })).toEqual(['two'])
      expect(await names(tenant, { deviceType: 'dev' })).toEqual([])
      expect(await names(tenant, { updateType: 'rootfs-image' })).toEqual(['one', 'two'])
      expect(await target.releases.countReleases(tenant, { deviceType: 'dev-a' })).toBe(1)
      expect(await target.releases.countReleases(tenant, {})).toBe(2)
      const sorted = await target.releases.listReleases(
        tenant,
        {},
        { by: 'artifacts_count', order: 'desc' },
        page,
      )
      expect(sorted.map((r) => r.name)).toEqual(['two', 'one'])
      expect((await target.releases.artifactsOf(tenant, ['two'])).map((a) => a.id)).toEqual([
        two.id,
        twoMore.id,
      ])
      expect(await target.releases.artifactsOf(tenant, [])).toEqual([])

      expect(await target.releases.updateNotes(tenant, 'one', 'release notes')).toBe(true)
      expect(await target.releases.updateNotes(tenant, 'none', 'x')).toBe(false)
      expect((await target.releases.listReleases(tenant, { names: ['one'] }, byName, page))[0]?.notes).toBe(
        'release notes',
      )
      expect(await target.releases.replaceTags(tenant, 'one', ['b', 'a'], 3)).toBe('ok')
      expect(await target.releases.replaceTags(tenant, 'two', ['c', 'd'], 3)).toBe('too-many')
      expect(await target.releases.replaceTags(tenant, 'none', ['a'], 3)).toBe('missing')
      expect(await target.releases.replaceTags(tenant, 'two', ['a'], 3)).toBe('ok')
      // Replacing a release's own tags does not count them twice.
      expect(await target.releases.replaceTags(tenant, 'one', ['a', 'b', 'e'], 3)).toBe('ok')
      expect(await names(tenant, { tags: ['b'] })).toEqual(['one'])
      expect(await names(tenant, { tags: ['z', 'a'] })).toEqual(['one', 'two'])
      expect(await target.releases.listTags(tenant)).toEqual(['a', 'b', 'e'])
      expect(await target.releases.listUpdateTypes(tenant)).toEqual(['rootfs-image'])
    })

    test('a release follows its artifacts: bumped by each change, gone with the last one', async () => {
      const tenant = 'life'
      const first = artifact(tenant, 'app', ['dev-a'], { modified: at(10) })
      const second = artifact(tenant, 'app', ['dev-b'], { modified: at(20) })
      await insert(first)
      await insert(second)
      await target.releases.replaceTags(tenant, 'app', ['kept'], 10)
      await target.releases.updateNotes(tenant, 'app', 'noted')
      const only = async () => (await target.releases.listReleases(tenant, {}, byName, page))[0]
      expect(await only()).toMatchObject({ modified: at(20), artifactsCount: 2, tags: ['kept'] })
      await target.artifacts.updateDescription(tenant, first.id, 'edited', at(30))
      expect(await only()).toMatchObject({ modified: at(30), artifactsCount: 2 })
      await target.artifacts.deleteArtifact(tenant, second.id, at(40))
      expect(await only()).toMatchObject({
        modified: at(40),
        artifactsCount: 1,
        tags: ['kept'],
        notes: 'noted',
      })
      await target.artifacts.deleteArtifact(tenant, first.id, at(50))
      expect(await only()).toBeUndefined()
      expect(await target.releases.listTags(tenant)).toEqual([])
      // A new artifact of the name starts a new release: the old tags and notes went with the old one.
      await insert(artifact(tenant, 'app', ['dev-a'], { modified: at(60) }))
      expect(await only()).toMatchObject({ modified: at(60), artifactsCount: 1, tags: [], notes: '' })
    })

    test('names, tags and payload types sort by code point; untagged releases first ascending, last descending', async () => {
      const tenant = 'order'
      const rows = [
        artifact(tenant, 'beta', ['d'], { modified: at(3) }),
        artifact(tenant, 'Alpha', ['d'], { modified: at(1), updates: [payload('rootfs-image')] }),
        artifact(tenant, 'a_1', ['d'], { modified: at(2), updates: [payload('Docker'), payload(null)] }),
        artifact(tenant, 'a-1', ['d'], { modified: at(4), updates: [payload('app')] }),
        artifact(tenant, '\u00c9t\u00e9', ['d'], { modified: at(5), description: '\u00c9T\u00c9 Build' }),
      ]
      for (const row of rows) await insert(row)
      await insert(artifact(tenant, 'beta', ['e'], { modified: at(6) }))
      expect(await names(tenant, {})).toEqual(['Alpha', 'a-1', 'a_1', 'beta', '\u00c9t\u00e9'])
      expect(await names(tenant, {}, { by: 'name', order: 'desc' })).toEqual([
        '\u00c9t\u00e9',
        'beta',
        'a_1',
        'a-1',
        'Alpha',
      ])
      expect(await names(tenant, {}, { by: 'modified', order: 'asc' })).toEqual([
        'Alpha',
        'a_1',
        'a-1',
        '\u00c9t\u00e9',
        'beta',
      ])
      // Equal counts fall back to the name ascending, in either direction.
      expect(await names(tenant, {}, { by: 'artifacts_count', order: 'desc' })).toEqual([
        'beta',
        'Alpha',
        'a-1',
        'a_1',
        '\u00c9t\u00e9',
      ])
      expect(await names(tenant, { name: { containsAnyCase: 'A' } })).toEqual(['Alpha', 'a-1', 'a_1', 'beta'])
      expect(await names(tenant, { description: 'build' })).toEqual(['\u00c9t\u00e9'])
      expect(await names(tenant, { description: '\u00e9t\u00e9' })).toEqual([])
      expect(await names(tenant, { updateType: 'docker' })).toEqual([])
      expect(await names(tenant, { updateType: 'Docker' })).toEqual(['a_1'])

      await target.releases.replaceTags(tenant, 'beta', ['m', 'a-z'], 100)
      await target.releases.replaceTags(tenant, 'Alpha', ['a_z', 'b'], 100)
      await target.releases.replaceTags(tenant, 'a_1', ['Z'], 100)
      const byTags = (order: 'asc' | 'desc') => names(tenant, {}, { by: 'tags', order })
      // Ascending by each release's smallest tag (Z < a-z < a_z), the untagged ones first by name.
      expect(await byTags('asc')).toEqual(['a-1', '\u00c9t\u00e9', 'a_1', 'beta', 'Alpha'])
      // Descending by each release's largest tag (m > b > Z), the untagged ones last by name.
      expect(await byTags('desc')).toEqual(['beta', 'Alpha', 'a_1', 'a-1', '\u00c9t\u00e9'])
      const window = await target.releases.listReleases(
        tenant,
        {},
        { by: 'tags', order: 'desc' },
        { offset: 3, limit: 1 },
      )
      expect(window.map((r) => r.name)).toEqual(['a-1'])
      expect(await target.releases.listTags(tenant)).toEqual(['Z', 'a-z', 'a_z', 'b', 'm'])
      expect(await target.releases.listUpdateTypes(tenant)).toEqual(['Docker', 'app', 'rootfs-image'])
    })
  })
}
