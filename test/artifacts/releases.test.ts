import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ARTIFACTS, blobKeys, makeArtifact, upload } from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { menderArtifact } from '../helpers/mender-tools.ts'

const V1 = '/api/management/v1/deployments/deployments/releases'
const V2 = '/api/management/v2/deployments/deployments/releases'
const SOFTWARE = '/api/management/v1alpha1/deployments/software'

let dir: string
let t: TestApp
let token: string

async function add(
  name: string,
  deviceType: string,
  options: { description?: string; rootfs?: boolean } = {},
) {
  let path: string
  if (options.rootfs) {
    path = join(dir, `${crypto.randomUUID()}.mender`)
    const image = join(dir, 'rootfs.ext4')
    await Bun.write(image, crypto.getRandomValues(new Uint8Array(10_000)))
    menderArtifact(['write', 'rootfs-image', '-n', name, '-t', deviceType, '-f', image, '-o', path])
  } else {
    path = await makeArtifact(dir, { name, deviceTypes: [deviceType] })
  }
  const res = await upload(t, token, path, { description: options.description ?? '' })
  expect(res.status).toBe(201)
  t.clock.advance(60)
}

const releaseNames = (list: { name?: string; Name?: string }[]) => list.map((r) => r.name ?? r.Name)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-releases-'))
  t = await createTestApp()
  token = (await loginAs(t)).token
  await add('my app 1.0', 'dev-a', { description: 'Nightly build' })
  await add('my app 1.0', 'dev-b')
  await add('base-os', 'dev-a', { rootfs: true })
  await add('tools-2', 'dev-c', { description: 'tools' })
})
afterAll(() => {
  t.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('releases v1', () => {
  test('lists releases with Mender’s capitalised keys, filtered', async () => {
    const res = await t.call('GET', V1, { token })
    expect(res.status).toBe(200)
    expect(releaseNames(res.json)).toEqual(['base-os', 'my app 1.0', 'tools-2'])
    const app = res.json[1]
    expect(Object.keys(app)).toEqual(['Name', 'Modified', 'Artifacts', 'ArtifactsCount', 'tags', 'notes'])
    expect(app.ArtifactsCount).toBe(2)
    expect(app.Artifacts.map((a: any) => a.device_types_compatible[0])).toEqual(['dev-a', 'dev-b'])
    expect(releaseNames((await t.call('GET', `${V1}?name=APP`, { token })).json)).toEqual(['my app 1.0'])
    expect(releaseNames((await t.call('GET', `${V1}?description=nightly`, { token })).json)).toEqual([
      'my app 1.0',
    ])
    expect(releaseNames((await t.call('GET', `${V1}?device_type=dev-a`, { token })).json)).toEqual([
      'base-os',
      'my app 1.0',
    ])
    expect(releaseNames((await t.call('GET', `${V1}?update_type=rootfs-image`, { token })).json)).toEqual([
      'base-os',
    ])
  })

  test('/list sorts, pages and counts', async () => {
    const byCount = await t.call('GET', `${V1}/list?sort=artifacts_count:desc&per_page=1`, { token })
    expect(releaseNames(byCount.json)).toEqual(['my app 1.0'])
    expect(byCount.headers.get('x-total-count')).toBe('3')
    expect(byCount.headers.get('link')).toContain('rel="next"')
    const byModified = await t.call('GET', `${V1}/list?sort=modified:desc`, { token })
    expect(releaseNames(byModified.json)).toEqual(['tools-2', 'base-os', 'my app 1.0'])
    const lenient = await t.call('GET', `${V1}/list?per_page=0&page=-1&sort=bogus`, { token })
    expect(releaseNames(lenient.json)).toEqual(['base-os', 'my app 1.0', 'tools-2'])
  })
})

describe('releases v2', () => {
  test('notes are set with PATCH and checked', async () => {
    const path = `${V2}/${encodeURIComponent('my app 1.0')}`
    expect((await t.call('PATCH', path, { token, body: { notes: 'Fixes the frobnicator.' } })).status).toBe(
      204,
    )
    expect((await t.call('GET', path, { token })).json.notes).toBe('Fixes the frobnicator.')
    const long = await t.call('PATCH', path, { token, body: { notes: 'n'.repeat(1025) } })
    expect(long.status).toBe(400)
    expect(long.json.error).toBe('invalid request body: release notes too long')
    const control = await t.call('PATCH', path, { token, body: { notes: 'two\nlines' } })
    expect(control.status).toBe(400)
    expect(control.json.error).toContain('invalid character')
    expect((await t.call('PATCH', `${V2}/nope`, { token, body: { notes: 'x' } })).status).toBe(404)
  })

  test('tags are replaced, lower-cased and deduplicated, and filter the list', async () => {
    const path = `${V2}/${encodeURIComponent('my app 1.0')}/tags`
    expect((await t.call('PUT', path, { token, body: ['Stable', 'stable', 'app.v1'] })).status).toBe(204)
    expect((await t.call('PUT', `${V2}/base-os/tags`, { token, body: ['os', 'stable'] })).status).toBe(204)
    const app = await t.call('GET', `${V2}/${encodeURIComponent('my app 1.0')}`, { token })
    expect(app.json).toMatchObject({ name: 'my app 1.0', tags: ['stable', 'app.v1'], artifacts_count: 2 })
    expect(Object.keys(app.json)).toEqual([
      'name',
      'modified',
      'tags',
      'notes',
      'artifacts',
      'artifacts_count',
    ])
    expect((await t.call('GET', '/api/management/v2/deployments/releases/all/tags', { token })).json).toEqual(
      ['app.v1', 'os', 'stable'],
    )
    const tagged = await t.call('GET', `${V2}?tag=OS&tag=app.v1`, { token })
    expect(releaseNames(tagged.json)).toEqual(['base-os', 'my app 1.0'])
    expect(tagged.headers.get('x-total-count')).toBe('2')
    const byTags = await t.call('GET', `${V2}?sort=tags:asc`, { token })
    expect(releaseNames(byTags.json)).toEqual(['tools-2', 'my app 1.0', 'base-os'])
    const long = await t.call('PUT', path, { token, body: ['x'.repeat(1025)] })
    expect(long.status).toBe(400)
    expect(long.json.error).toBe('invalid request body: tag must be less than 1024 characters')
  })

  test('tag limits: 20 per release, valid characters, 100 distinct in all', async () => {
    const tooMany = await t.call('PUT', `${V2}/tools-2/tags`, {
      token,
      body: Array.from({ length: 21 }, (_, i) => `t${i}`),
    })
    expect(tooMany.status).toBe(400)
    const bad = await t.call('PUT', `${V2}/tools-2/tags`, { token, body: ['no spaces'] })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toBe('invalid request body: invalid character \' \' in string "no spaces"')
    expect((await t.call('PUT', `${V2}/nope/tags`, { token, body: ['a'] })).status).toBe(404)
    for (const [i, name] of ['tools-2', 'base-os'].entries()) {
      const tags = Array.from({ length: 20 }, (_, j) => `r${i}-${j}`)
      expect((await t.call('PUT', `${V2}/${name}/tags`, { token, body: tags })).status).toBe(204)
    }
    await add('extra-1', 'dev-x')
    await add('extra-2', 'dev-x')
    await add('extra-3', 'dev-x')
    for (const name of ['extra-1', 'extra-2']) {
      const tags = Array.from({ length: 20 }, (_, j) => `${name}-${j}`)
      expect((await t.call('PUT', `${V2}/${name}/tags`, { token, body: tags })).status).toBe(204)
    }
    // 2 (my app) + 80 in use: 19 more would make 101.
    const over = await t.call('PUT', `${V2}/extra-3/tags`, {
      token,
      body: Array.from({ length: 19 }, (_, j) => `x-${j}`),
    })
    expect(over.status).toBe(409)
    expect(over.json.error).toBe('the total number of unique tags (100) has been exceeded')
    // Reusing tags already in use is fine.
    expect((await t.call('PUT', `${V2}/extra-3/tags`, { token, body: ['stable', 'r0-1'] })).status).toBe(204)
  })

  test('update types and an unknown release', async () => {
    expect(
      (await t.call('GET', '/api/management/v2/deployments/releases/all/types', { token })).json,
    ).toEqual(['rootfs-image', 'single-file'])
    const missing = await t.call('GET', `${V2}/nope`, { token })
    expect(missing.status).toBe(404)
    expect(missing.json.error).toBe('release not found')
  })

  test('deleting releases removes their artifacts and files', async () => {
    const before = (await blobKeys(t)).length
    expect((await t.call('DELETE', V2, { token })).status).toBe(400)
    const res = await t.call('DELETE', `${V2}?name=extra-1&name=extra-2&name=unknown`, { token })
    expect(res.status).toBe(204)
    expect((await blobKeys(t)).length).toBe(before - 2)
    expect((await t.call('GET', `${V2}/extra-1`, { token })).status).toBe(404)
    expect((await t.call('GET', `${ARTIFACTS}?name=extra-`, { token })).json.map((a: any) => a.name)).toEqual(
      ['extra-3'],
    )
  })
})

describe('software (v1alpha1)', () => {
  test('lists releases as software, with kind and compatible types', async () => {
    const res = await t.call('GET', `${SOFTWARE}?name_prefix=my`, { token })
    expect(res.status).toBe(200)
    expect(res.json).toEqual([
      {
        name: 'my app 1.0',
        modified: expect.any(String),
        tags: ['stable', 'app.v1'],
        notes: 'Fixes the frobnicator.',
        kind: 'release',
        compatible_types: ['dev-a', 'dev-b'],
      },
    ])
    expect(res.headers.get('x-total-count')).toBe('1')
    expect(
      releaseNames((await t.call('GET', `${SOFTWARE}?name=base-os&name=tools-2`, { token })).json),
    ).toEqual(['base-os', 'tools-2'])
    // The prefix is case-sensitive, as in Mender.
    expect((await t.call('GET', `${SOFTWARE}?name_prefix=MY`, { token })).json).toEqual([])
    expect((await t.call('GET', `${SOFTWARE}?kind=manifest`, { token })).json).toEqual([])
    expect(releaseNames((await t.call('GET', `${SOFTWARE}?tag=os&sort=name:desc`, { token })).json)).toEqual(
      [],
    )
    expect(
      releaseNames((await t.call('GET', `${SOFTWARE}?tag=stable&sort=name:desc`, { token })).json),
    ).toEqual(['my app 1.0', 'extra-3'])
  })

  test('refuses contradictory or unknown parameters', async () => {
    for (const query of ['name=a&name_prefix=b', 'kind=other', 'sort=artifacts_count:asc', 'per_page=501']) {
      expect((await t.call('GET', `${SOFTWARE}?${query}`, { token })).status).toBe(400)
    }
  })

  test('tags, by kind', async () => {
    expect((await t.call('GET', `${SOFTWARE}/tags?kind=release`, { token })).json).toContain('stable')
    expect((await t.call('GET', `${SOFTWARE}/tags?kind=manifest`, { token })).json).toEqual([])
    expect((await t.call('GET', `${SOFTWARE}/tags?kind=release&kind=manifest`, { token })).status).toBe(400)
  })
})
