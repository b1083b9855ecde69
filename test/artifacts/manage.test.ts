import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../../src/app.ts'
import { createReleasesService } from '../../src/services/artifacts/service.releases.ts'
import { createArtifactsService, type DeploymentUsage } from '../../src/services/artifacts/service.ts'
import { createStorageProxy } from '../../src/storage/proxy.ts'
import { ARTIFACTS, blobKeys, makeArtifact, upload } from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const V2_ARTIFACTS = '/api/management/v2/deployments/artifacts'

let dir: string
let t: TestApp
let token: string
const ids: Record<string, string> = {}

/** Uploads an artifact and remembers its id under `key`. */
async function add(key: string, options: Parameters<typeof makeArtifact>[1], description = '') {
  const res = await upload(t, token, await makeArtifact(dir, options), { description })
  expect(res.status).toBe(201)
  ids[key] = res.headers.get('location')!.split('/').at(-1)!
  t.clock.advance(60)
}

/** `name/description` of each artifact: in the server's order, except that artifacts sharing a name
 * (ordered among themselves by their random ids) are sorted by description. */
const names = (res: { json: { name: string; description: string }[] }) => {
  const order = [...new Set(res.json.map((a) => a.name))]
  return res.json
    .map((a) => [order.indexOf(a.name), `${a.name}/${a.description}`] as const)
    .sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1]))
    .map(([, label]) => label)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-artifacts-'))
  t = await createTestApp()
  token = (await loginAs(t)).token
  await add('beta', { name: 'Beta-App', deviceTypes: ['raspberrypi4'] }, 'second build')
  await add('alpha', { name: 'alpha-app', deviceTypes: ['beaglebone'] }, 'First build')
  await add('alpha2', { name: 'alpha-app', deviceTypes: ['raspberrypi3'] }, 'first for the pi')
  await add('star', { name: 'star*', deviceTypes: ['qemu'] }, 'literal star')
})
afterAll(() => {
  t.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('listing artifacts', () => {
  test('v1 lists every artifact by name, filtered by case-insensitive substrings', async () => {
    expect(names(await t.call('GET', ARTIFACTS, { token }))).toEqual([
      'Beta-App/second build',
      'alpha-app/First build',
      'alpha-app/first for the pi',
      'star*/literal star',
    ])
    expect(names(await t.call('GET', `${ARTIFACTS}?name=APP`, { token }))).toHaveLength(3)
    expect(names(await t.call('GET', `${ARTIFACTS}?description=FIRST`, { token }))).toEqual([
      'alpha-app/First build',
      'alpha-app/first for the pi',
    ])
    expect(names(await t.call('GET', `${ARTIFACTS}?device_type=PI4`, { token }))).toEqual([
      'Beta-App/second build',
    ])
    expect((await t.call('GET', `${ARTIFACTS}?name=nothing`, { token })).json).toEqual([])
  })

  test('/list pages leniently, sorts by name or modified, and sends Link and X-Total-Count', async () => {
    const page = await t.call('GET', `${ARTIFACTS}/list?per_page=2&page=2&sort=modified:desc`, { token })
    expect(page.status).toBe(200)
    expect(names(page)).toEqual(['alpha-app/First build', 'Beta-App/second build'])
    expect(page.headers.get('x-total-count')).toBe('4')
    expect(page.headers.get('link')).toBe(
      [
        `<${ARTIFACTS}/list?page=1&per_page=2&sort=modified%3Adesc>; rel="first"`,
        `<${ARTIFACTS}/list?page=1&per_page=2&sort=modified%3Adesc>; rel="prev"`,
        `<${ARTIFACTS}/list?page=2&per_page=2&sort=modified%3Adesc>; rel="last"`,
      ].join(', '),
    )
    const sorted = await t.call('GET', `${ARTIFACTS}/list?sort=name:desc`, { token })
    expect(names(sorted)[0]).toBe('star*/literal star')
    // Bad values fall back to the defaults, as in Mender.
    const lenient = await t.call('GET', `${ARTIFACTS}/list?page=zero&per_page=9999&sort=size`, { token })
    expect(lenient.status).toBe(200)
    expect(names(lenient)[0]).toBe('Beta-App/second build')
    expect(lenient.headers.get('link')).toContain('page=1&per_page=20')
    const filtered = await t.call('GET', `${ARTIFACTS}/list?name=alpha`, { token })
    expect(filtered.headers.get('x-total-count')).toBe('2')
  })

  test('v2 matches exact names, one prefix, or a literal star; pages with Link only', async () => {
    const exact = await t.call('GET', `${V2_ARTIFACTS}?name=alpha-app&name=Beta-App`, { token })
    expect(names(exact)).toEqual([
      'Beta-App/second build',
      'alpha-app/First build',
      'alpha-app/first for the pi',
    ])
    expect(exact.headers.get('x-total-count')).toBeNull()
    expect(names(await t.call('GET', `${V2_ARTIFACTS}?name=ALPHA*`, { token }))).toHaveLength(2)
    expect(
      names(await t.call('GET', `${V2_ARTIFACTS}?name=${encodeURIComponent('star\\*')}`, { token })),
    ).toEqual(['star*/literal star'])
    expect(names(await t.call('GET', `${V2_ARTIFACTS}?name=alpha`, { token }))).toEqual([])
    expect(names(await t.call('GET', `${V2_ARTIFACTS}?description=first*`, { token }))).toEqual([
      'alpha-app/First build',
      'alpha-app/first for the pi',
    ])
    expect(names(await t.call('GET', `${V2_ARTIFACTS}?description=First%20build`, { token }))).toEqual([
      'alpha-app/First build',
    ])
    expect(names(await t.call('GET', `${V2_ARTIFACTS}?device_type=raspberry*`, { token }))).toHaveLength(2)
    expect(names(await t.call('GET', `${V2_ARTIFACTS}?device_type=qemu`, { token }))).toEqual([
      'star*/literal star',
    ])

    const first = await t.call('GET', `${V2_ARTIFACTS}?per_page=3`, { token })
    expect(first.json).toHaveLength(3)
    expect(first.headers.get('link')).toBe(
      `<${V2_ARTIFACTS}?page=1&per_page=3>; rel="first", <${V2_ARTIFACTS}?page=2&per_page=3>; rel="next"`,
    )
    const last = await t.call('GET', `${V2_ARTIFACTS}?per_page=3&page=2`, { token })
    expect(last.json).toHaveLength(1)
    expect(last.headers.get('link')).not.toContain('rel="next"')
  })

  test('v2 refuses exact names with a prefix, two prefixes, and more than 500 per page', async () => {
    for (const query of ['name=a&name=b*', 'name=a*&name=b*', 'per_page=501']) {
      const res = await t.call('GET', `${V2_ARTIFACTS}?${query}`, { token })
      expect(res.status).toBe(400)
      expect(res.json.error).toStartWith('invalid filter')
    }
  })
})

describe('one artifact', () => {
  test('get answers 404 for an unknown id and 400 for a malformed one', async () => {
    const missing = await t.call('GET', `${ARTIFACTS}/${crypto.randomUUID()}`, { token })
    expect(missing.status).toBe(404)
    expect(missing.json.error).toBe('Resource not found')
    for (const [method, suffix] of [
      ['GET', ''],
      ['PUT', ''],
      ['DELETE', ''],
      ['GET', '/download'],
    ] as const) {
      const res = await t.call(method, `${ARTIFACTS}/not-a-uuid${suffix}`, {
        token,
        body: method === 'PUT' ? {} : undefined,
      })
      expect(res.status).toBe(400)
      expect(res.json.error).toBe('ID is not a valid UUID')
    }
  })

  test('editing the description moves modified and the release', async () => {
    const before = (await t.call('GET', `${ARTIFACTS}/${ids.beta}`, { token })).json
    t.clock.advance(5)
    const res = await t.call('PUT', `${ARTIFACTS}/${ids.beta}`, { token, body: { description: 'edited' } })
    expect(res.status).toBe(204)
    const after = (await t.call('GET', `${ARTIFACTS}/${ids.beta}`, { token })).json
    expect(after.description).toBe('edited')
    expect(after.modified).toBe(t.clock.now().toISOString())
    expect(after.modified).not.toBe(before.modified)
    const release = await t.call('GET', '/api/management/v2/deployments/deployments/releases/Beta-App', {
      token,
    })
    expect(release.json.modified).toBe(after.modified)
    expect(
      (await t.call('PUT', `${ARTIFACTS}/${crypto.randomUUID()}`, { token, body: { description: 'x' } }))
        .status,
    ).toBe(404)
    const long = await t.call('PUT', `${ARTIFACTS}/${ids.beta}`, {
      token,
      body: { description: 'd'.repeat(4097) },
    })
    expect(long.status).toBe(400)
    expect(long.json.error).toBe(
      'Validating request body: description: the length must be no more than 4096.',
    )
  })

  test('the download link fetches the stored file through the storage proxy for 15 minutes', async () => {
    const res = await t.call('GET', `${ARTIFACTS}/${ids.alpha}/download`, { token })
    expect(res.status).toBe(200)
    expect(res.json.method).toBe('GET')
    expect(Date.parse(res.json.expire)).toBe(
      t.clock.now().getTime() - (t.clock.now().getTime() % 1000) + 900_000,
    )
    const proxy = createStorageProxy(t.deps)
    const file = await proxy(new Request(res.json.uri))
    expect(file.status).toBe(200)
    expect(file.headers.get('content-disposition')).toBe('attachment; filename="alpha-app.mender"')
    const artifact = (await t.call('GET', `${ARTIFACTS}/${ids.alpha}`, { token })).json
    expect((await file.arrayBuffer()).byteLength).toBe(artifact.size)
    expect((await t.call('GET', `${ARTIFACTS}/${crypto.randomUUID()}/download`, { token })).status).toBe(404)
  })

  test('deleting removes the row, the object and, with its last artifact, the release', async () => {
    const res = await t.call('DELETE', `${ARTIFACTS}/${ids.alpha}`, { token })
    expect(res.status).toBe(204)
    expect((await t.call('GET', `${ARTIFACTS}/${ids.alpha}`, { token })).status).toBe(404)
    expect(await blobKeys(t)).not.toContain(ids.alpha)
    const release = await t.call('GET', '/api/management/v2/deployments/deployments/releases/alpha-app', {
      token,
    })
    expect(release.json.artifacts_count).toBe(1)
    expect((await t.call('DELETE', `${ARTIFACTS}/${ids.alpha2}`, { token })).status).toBe(204)
    expect(
      (await t.call('GET', '/api/management/v2/deployments/deployments/releases/alpha-app', { token }))
        .status,
    ).toBe(404)
    expect((await t.call('DELETE', `${ARTIFACTS}/${ids.alpha2}`, { token })).status).toBe(404)
  })

  test('the storage limit counts what is stored', async () => {
    const sizes = (await t.call('GET', ARTIFACTS, { token })).json.map((a: { size: number }) => a.size)
    const res = await t.call('GET', '/api/management/v1/deployments/limits/storage', { token })
    expect(res.json).toEqual({ limit: 0, usage: sizes.reduce((a: number, b: number) => a + b, 0) })
    expect((await t.call('GET', '/api/management/v1/deployments/limits/other', { token })).status).toBe(400)
  })
})

describe('artifacts used by deployments', () => {
  // The deployments service answers these questions from its own tables; here a list of the
  // test's own plays its part.
  let used: TestApp['app']
  beforeAll(() => {
    const deployments = [
      { id: 'd-active', tenantId: '', name: 'Beta-App', active: true },
      { id: 'd-done', tenantId: '', name: 'star*', active: false },
    ]
    const usage: DeploymentUsage = {
      activeDeploymentIds: async (tenantId, names) =>
        deployments
          .filter((d) => d.active && d.tenantId === tenantId && names.includes(d.name))
          .map((d) => d.id),
      isNameInAnyDeployment: async (tenantId, name) =>
        deployments.some((d) => d.tenantId === tenantId && d.name === name),
    }
    used = createApp(t.deps, {
      ...t.services,
      artifacts: createArtifactsService(t.deps, { usage }),
      releases: createReleasesService(t.deps, { usage }),
    })
  })

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await used.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
    return { status: res.status, json: (await res.json().catch(() => undefined)) as any }
  }

  test('an artifact of an active deployment cannot be deleted; a finished one can', async () => {
    const res = await call('DELETE', `${ARTIFACTS}/${ids.beta}`)
    expect(res.status).toBe(409)
    expect(res.json.error).toBe('Artifact is used in active deployment')
    expect((await call('DELETE', `${ARTIFACTS}/${ids.star}`)).status).toBe(204)
  })

  test('an artifact used by any deployment cannot be edited', async () => {
    const res = await call('PUT', `${ARTIFACTS}/${ids.beta}`, { description: 'no' })
    expect(res.status).toBe(422)
    expect(res.json.error).toBe('Image has already been used in deployment')
  })

  test('releases of an active deployment cannot be deleted', async () => {
    const res = await call('DELETE', '/api/management/v2/deployments/deployments/releases?name=Beta-App')
    expect(res.status).toBe(409)
    expect(res.json).toMatchObject({
      error: 'release(s) used in active deployment',
      active_deployments: ['d-active'],
    })
    expect((await t.call('GET', `${ARTIFACTS}/${ids.beta}`, { token })).status).toBe(200)
  })
})
