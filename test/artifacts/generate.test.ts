import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { artifactBlobKey } from '../../src/services/artifacts/model.ts'
import {
  ARTIFACTS,
  blobKeys,
  expectNothingStored,
  leftovers,
  multipartBytes,
  postMultipart,
  type RawPart,
} from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { readArtifactWithTool } from '../helpers/mender-tools.ts'
import { readAll } from '../storage/bytes.ts'

const GENERATE = `${ARTIFACTS}/generate`
const content = new TextEncoder().encode('listen 8080\n')

let dir: string
let t: TestApp
let token: string

function form(
  overrides: Partial<Record<string, string | null>> = {},
  file: Uint8Array | null = content,
): Uint8Array {
  const fields: Record<string, string | null> = {
    name: 'app-config-1',
    description: 'generated',
    type: 'single-file',
    args: JSON.stringify({ filename: 'app.conf', dest_dir: '/etc/app' }),
    ...overrides,
  }
  const parts: RawPart[] = Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => ({ name, content: value }))
  if (overrides.device_types_compatible === undefined) {
    parts.push(
      { name: 'device_types_compatible', content: 'dev-a' },
      { name: 'device_types_compatible', content: 'dev-b' },
    )
  }
  if (file) parts.push({ name: 'file', filename: 'local-name.conf', content: file })
  return multipartBytes(parts)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-generate-'))
  t = await createTestApp({ BENDER_MAX_ARTIFACT_SIZE: '65536' })
  token = (await loginAs(t)).token
})
afterAll(() => {
  t.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('artifact generation', () => {
  test('a single-file artifact is built from the file and stored like an upload', async () => {
    const res = await postMultipart(t, token, form(), { path: GENERATE })
    expect(res.status).toBe(201)
    const id = res.headers.get('location')!.split('/').at(-1)!
    expect(res.headers.get('location')).toBe(`${ARTIFACTS}/${id}`)
    const artifact = (await t.call('GET', `${ARTIFACTS}/${id}`, { token })).json
    expect(artifact).toMatchObject({
      name: 'app-config-1',
      description: 'generated',
      device_types_compatible: ['dev-a', 'dev-b'],
      artifact_provides: {
        artifact_name: 'app-config-1',
        'rootfs-image.single-file.version': 'app-config-1',
      },
      artifact_depends: { device_type: ['dev-a', 'dev-b'] },
    })
    expect(artifact.updates[0].type_info.type).toBe('single-file')
    expect(artifact.updates[0].files.map((f: { name: string }) => f.name).sort()).toEqual([
      'app.conf',
      'dest_dir',
      'filename',
      'permissions',
    ])
    expect(leftovers(t)).toEqual([])

    // The real mender-artifact accepts what was stored.
    const stored = await t.deps.blobs.get(artifactBlobKey('', id))
    const path = join(dir, 'stored.mender')
    await Bun.write(path, await readAll(stored!.body instanceof Blob ? stored!.body.stream() : stored!.body))
    const read = readArtifactWithTool(path)
    expect(read.name).toBe('app-config-1')
    expect(read.devices).toEqual(['dev-a', 'dev-b'])
    expect(read.updates[0]?.type).toBe('single-file')
    const file = read.updates[0]?.files.find((f) => f.name === 'app.conf')
    expect(file?.checksum).toBe(new Bun.CryptoHasher('sha256').update(content).digest('hex'))
  })

  test('the same name is fine for a new device type, refused as in Mender for one it has', async () => {
    const keys = await blobKeys(t)
    const res = await postMultipart(t, token, form({ device_types_compatible: 'dev-c' }), { path: GENERATE })
    expect(res.status).toBe(201)
    const again = await postMultipart(
      t,
      token,
      multipartBytes([
        { name: 'name', content: 'app-config-1' },
        { name: 'type', content: 'single-file' },
        { name: 'device_types_compatible', content: 'dev-b,dev-z' },
        { name: 'args', content: JSON.stringify({ dest_dir: '/etc/app' }) },
        { name: 'file', filename: 'app.conf', content },
      ]),
      { path: GENERATE },
    )
    expect(again.status).toBe(422)
    expect(again.json.error).toBe('Artifact not unique')
    expect((await blobKeys(t)).length).toBe(keys.length + 1)
    expect(leftovers(t)).toEqual([])
  })
})

describe('refused generation requests leave nothing behind', () => {
  beforeAll(async () => {
    t.close()
    t = await createTestApp({ BENDER_MAX_ARTIFACT_SIZE: '65536' })
    token = (await loginAs(t)).token
  })

  const cases: [string, Uint8Array, number, string][] = [
    ['no file', form({}, null), 400, "missing 'file' section"],
    ['no name', form({ name: null }), 400, 'name: cannot be blank'],
    ['no type', form({ type: null }), 400, 'type: cannot be blank'],
    [
      'no device type',
      form({ device_types_compatible: '' }),
      400,
      'device_types_compatible: cannot be blank',
    ],
    [
      'too many device types',
      form({ device_types_compatible: Array.from({ length: 257 }, (_, i) => `d${i}`).join(',') }),
      400,
      'device_types_compatible: at most 256',
    ],
    ['args that are not JSON', form({ args: 'dest_dir=/etc' }), 400, "can't parse 'args'"],
    ['no destination', form({ args: '{"filename":"a.conf"}' }), 400, 'dest_dir cannot be blank'],
    [
      'a relative destination',
      form({ args: '{"filename":"a.conf","dest_dir":"etc"}' }),
      400,
      'dest_dir must be an absolute path',
    ],
    [
      'a file name with a space',
      form({ args: '{"filename":"a b","dest_dir":"/etc"}' }),
      400,
      'only letters, digits',
    ],
    ['a file over the size limit', form({}, new Uint8Array(70_000)), 413, 'Artifact file too large'],
  ]
  for (const [name, body, status, message] of cases) {
    test(name, async () => {
      const res = await postMultipart(t, token, body, { path: GENERATE })
      expect(res.status).toBe(status)
      expect(res.json.error).toContain(message)
      await expectNothingStored(t, token)
    })
  }
})
