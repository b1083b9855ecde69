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
  makeArtifact,
  multipartBytes,
  postMultipart,
  upload,
} from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { menderArtifact } from '../helpers/mender-tools.ts'
import { readAll } from '../storage/bytes.ts'

let dir: string
let t: TestApp
let token: string
let artifact: string
let artifactBytes: Uint8Array

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-upload-'))
  artifact = await makeArtifact(dir, { name: 'app-1', deviceTypes: ['dev-a', 'dev-b'] })
  artifactBytes = new Uint8Array(await Bun.file(artifact).arrayBuffer())
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function freshApp(env: Record<string, string> = {}) {
  t?.close()
  t = await createTestApp(env)
  token = (await loginAs(t)).token
}

describe('artifact upload', () => {
  beforeAll(() => freshApp())

  test('an upload as mender-cli sends it is stored unchanged, described and listed', async () => {
    const res = await upload(t, token, artifact, { size: String(artifactBytes.length), description: 'first' })
    expect(res.status).toBe(201)
    expect(res.text).toBe('')
    const location = res.headers.get('location')!
    expect(location).toMatch(/^\/api\/management\/v1\/deployments\/artifacts\/[0-9a-f-]{36}$/)
    const id = location.split('/').at(-1)!

    const got = await t.call('GET', `${ARTIFACTS}/${id}`, { token })
    expect(got.status).toBe(200)
    expect(got.json).toMatchObject({
      id,
      description: 'first',
      name: 'app-1',
      device_types_compatible: ['dev-a', 'dev-b'],
      info: { format: 'mender', version: 3 },
      signed: false,
      artifact_provides: { artifact_name: 'app-1', 'rootfs-image.single-file.version': 'app-1' },
      artifact_depends: { device_type: ['dev-a', 'dev-b'] },
      clears_artifact_provides: ['rootfs-image.single-file.*'],
      size: artifactBytes.length,
    })
    expect(got.json.updates[0].type_info).toEqual({ type: 'single-file' })
    expect(got.json.updates[0].files[0].checksum).toMatch(/^[0-9a-f]{64}$/)

    expect(await blobKeys(t)).toEqual([artifactBlobKey('', id)])
    const stored = await t.deps.blobs.get(artifactBlobKey('', id))
    expect(
      Buffer.from(await readAll(stored!.body instanceof Blob ? stored!.body.stream() : stored!.body)).equals(
        artifactBytes,
      ),
    ).toBe(true)
    expect(leftovers(t)).toEqual([])

    const limits = await t.call('GET', '/api/management/v1/deployments/limits/storage', { token })
    expect(limits.json).toEqual({ limit: 0, usage: artifactBytes.length })
    const release = await t.call('GET', '/api/management/v2/deployments/deployments/releases/app-1', {
      token,
    })
    expect(release.json).toMatchObject({ name: 'app-1', artifacts_count: 1, tags: [], notes: '' })
    expect(release.json.artifacts[0].id).toBe(id)
  })

  test('the same name for the same device type is a conflict that names the combination', async () => {
    const before = await blobKeys(t)
    const res = await upload(t, token, artifact)
    expect(res.status).toBe(409)
    expect(res.json).toMatchObject({
      error: 'an artifact with the same name and depends already exists',
      metadata: { conflict: { device_type: 'dev-a' } },
    })
    expect(res.json.request_id).toBe(res.headers.get('x-men-requestid'))
    expect(await blobKeys(t)).toEqual(before)
    expect(leftovers(t)).toEqual([])
    // Overlapping on one device type is enough.
    const overlapping = await makeArtifact(dir, { name: 'app-1', deviceTypes: ['dev-c', 'dev-b'] })
    const second = await upload(t, token, overlapping)
    expect(second.status).toBe(409)
    expect(second.json.metadata).toEqual({ conflict: { device_type: 'dev-b' } })
  })

  test('the same name for another device type, or with other depends, is a new artifact of the release', async () => {
    const other = await makeArtifact(dir, { name: 'app-1', deviceTypes: ['dev-c'] })
    expect((await upload(t, token, other)).status).toBe(201)
    const withDepends = await makeArtifact(dir, { name: 'app-1', extra: ['-d', 'some.key:someval'] })
    expect((await upload(t, token, withDepends)).status).toBe(201)
    const release = await t.call('GET', '/api/management/v2/deployments/deployments/releases/app-1', {
      token,
    })
    expect(release.json.artifacts_count).toBe(3)
    const list = await t.call('GET', ARTIFACTS, { token })
    expect(list.json.find((a: any) => a.artifact_depends['some.key'])?.artifact_depends).toEqual({
      device_type: ['dev-a'],
      'some.key': 'someval',
    })
  })

  test('the artifact_id part names the artifact; unknown parts are ignored; multipart/mixed works', async () => {
    const id = crypto.randomUUID()
    const named = await makeArtifact(dir, { name: 'app-2' })
    const body = multipartBytes([
      { name: 'artifact_id', content: id },
      { name: 'whatever', content: 'ignored' },
      { content: 'a part that is not form-data' },
      {
        name: 'artifact',
        filename: 'x.mender',
        content: new Uint8Array(await Bun.file(named).arrayBuffer()),
      },
    ])
    const res = await postMultipart(t, token, body, { type: 'multipart/mixed; boundary=test-boundary-7d9f' })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe(`${ARTIFACTS}/${id}`)
    // The id is taken now, whatever the artifact.
    const again = await makeArtifact(dir, { name: 'app-3' })
    const twice = await postMultipart(
      t,
      token,
      multipartBytes([
        { name: 'artifact_id', content: id },
        { name: 'artifact', content: new Uint8Array(await Bun.file(again).arrayBuffer()) },
      ]),
    )
    expect(twice.status).toBe(409)
    expect((await t.call('GET', `${ARTIFACTS}/${id}`, { token })).json.name).toBe('app-2')
  })

  test('meta-data shows as metadata and as the deprecated meta_data list; signatures are flagged', async () => {
    const meta = join(dir, 'meta.json')
    await Bun.write(meta, JSON.stringify({ vendor: 'acme', build: 42 }))
    const key = join(dir, 'key.pem')
    // mender-artifact 3.9 reads PKCS#1 RSA keys only.
    expect(Bun.spawnSync(['openssl', 'genrsa', '-traditional', '-out', key, '2048']).exitCode).toBe(0)
    const path = await makeArtifact(dir, { name: 'app-meta', extra: ['-m', meta, '-k', key] })
    const res = await upload(t, token, path)
    expect(res.status).toBe(201)
    const artifact = (await t.call('GET', res.headers.get('location')!, { token })).json
    expect(artifact.signed).toBe(true)
    expect(artifact.updates[0].metadata).toEqual({ vendor: 'acme', build: 42 })
    // One pair per key; Mender's order is Go's map order, so none is promised.
    expect(artifact.updates[0].meta_data.toSorted((a: any, b: any) => a.Key.localeCompare(b.Key))).toEqual([
      { Key: 'build', Value: 42 },
      { Key: 'vendor', Value: 'acme' },
    ])
  })

  test('a format 2 artifact has no provides, and its device types as its depends (as in Mender)', async () => {
    const image = join(dir, 'rootfs.ext4')
    await Bun.write(image, crypto.getRandomValues(new Uint8Array(8192)))
    const path = join(dir, 'v2.mender')
    menderArtifact([
      'write',
      'rootfs-image',
      '-v',
      '2',
      '-n',
      'app-v2',
      '-t',
      'dev-v2',
      '-f',
      image,
      '-o',
      path,
    ])
    const res = await upload(t, token, path)
    expect(res.status).toBe(201)
    const artifact = (await t.call('GET', res.headers.get('location')!, { token })).json
    expect(artifact.info).toEqual({ format: 'mender', version: 2 })
    expect(artifact.artifact_provides).toBeUndefined()
    expect(artifact.clears_artifact_provides).toBeUndefined()
    expect(artifact.artifact_depends).toEqual({ device_type: ['dev-v2'] })
    expect(artifact.updates[0].type_info).toEqual({ type: 'rootfs-image' })
    expect(artifact.updates[0].metadata).toBeUndefined()
    expect(artifact.updates[0].meta_data).toBeUndefined()
  })

  test('a request without a token is refused before anything is read', async () => {
    const res = await t.call('POST', ARTIFACTS, {
      raw: multipartBytes([]),
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
    })
    expect(res.status).toBe(401)
  })
})

describe('hostile uploads leave no row, no object and no temp file', () => {
  beforeAll(() => freshApp({ BENDER_MAX_ARTIFACT_SIZE: '65536' }))

  const cases: [string, () => Promise<{ body: Uint8Array; type?: string }>, number, string][] = [
    [
      'a bad checksum',
      async () => {
        const path = await makeArtifact(dir, { name: 'bad-sum', compression: 'none' })
        const bytes = new Uint8Array(await Bun.file(path).arrayBuffer())
        const at = Buffer.from(bytes).indexOf('payload of bad-sum')
        bytes[at] = 'P'.charCodeAt(0)
        return { body: multipartBytes([{ name: 'artifact', content: bytes }]) }
      },
      400,
      'invalid checksum for data/0000/',
    ],
    [
      'a truncated artifact',
      async () => ({ body: multipartBytes([{ name: 'artifact', content: artifactBytes.slice(0, 3000) }]) }),
      400,
      'unexpected end of data',
    ],
    [
      'a file that is not an artifact',
      async () => ({
        body: multipartBytes([{ name: 'artifact', content: crypto.getRandomValues(new Uint8Array(5000)) }]),
      }),
      400,
      'not a Mender artifact',
    ],
    [
      'an artifact over the size limit',
      async () => {
        const big = join(dir, 'big.bin')
        await Bun.write(big, crypto.getRandomValues(new Uint8Array(100_000)))
        const path = await makeArtifact(dir, { name: 'too-big', files: [big], compression: 'none' })
        return {
          body: multipartBytes([
            { name: 'artifact', content: new Uint8Array(await Bun.file(path).arrayBuffer()) },
          ]),
        }
      },
      413,
      'Artifact file too large',
    ],
    [
      'a size part above the limit',
      async () => ({
        body: multipartBytes([
          { name: 'size', content: '70000' },
          { name: 'artifact', content: artifactBytes },
        ]),
      }),
      413,
      'Artifact file too large',
    ],
    [
      'an artifact longer than its size part',
      async () => ({
        body: multipartBytes([
          { name: 'size', content: String(artifactBytes.length - 512) },
          { name: 'artifact', content: artifactBytes },
        ]),
      }),
      413,
      'Artifact file too large',
    ],
    [
      'an artifact shorter than its size part',
      async () => ({
        body: multipartBytes([
          { name: 'size', content: String(artifactBytes.length + 512) },
          { name: 'artifact', content: artifactBytes },
        ]),
      }),
      400,
      'unexpected EOF',
    ],
    [
      'a size part that is not a number',
      async () => ({
        body: multipartBytes([
          { name: 'size', content: '12ab' },
          { name: 'artifact', content: artifactBytes },
        ]),
      }),
      400,
      'invalid size',
    ],
    [
      'no artifact part',
      async () => ({ body: multipartBytes([{ name: 'description', content: 'only words' }]) }),
      400,
      'request does not contain the artifact file',
    ],
    [
      'an invalid artifact_id',
      async () => ({
        body: multipartBytes([
          { name: 'artifact_id', content: 'nope' },
          { name: 'artifact', content: artifactBytes },
        ]),
      }),
      400,
      'artifact_id is not a valid UUID',
    ],
    [
      'a body cut in the middle of the artifact',
      async () => {
        const whole = multipartBytes([{ name: 'artifact', content: artifactBytes }], undefined, false)
        return { body: whole.slice(0, whole.length - 1000) }
      },
      400,
      'unexpected end of body',
    ],
    [
      'a JSON body',
      async () => ({ body: new TextEncoder().encode('{"artifact":1}'), type: 'application/json' }),
      415,
      "Bad Content-Type, expected 'multipart/form-data', 'multipart/mixed'",
    ],
    [
      'a multipart type without a boundary',
      async () => ({
        body: multipartBytes([{ name: 'artifact', content: artifactBytes }]),
        type: 'multipart/form-data',
      }),
      400,
      'no multipart boundary param in Content-Type',
    ],
  ]

  for (const [name, make, status, message] of cases) {
    test(name, async () => {
      const { body, type } = await make()
      const res = await postMultipart(t, token, body, { type })
      expect(res.status).toBe(status)
      expect(res.json.error).toContain(message)
      await expectNothingStored(t, token)
    })
  }

  test('a declared length over the limit is refused before the body is read', async () => {
    const res = await t.call('POST', ARTIFACTS, {
      token,
      raw: new ReadableStream({
        pull() {
          throw new Error('the body must not be read')
        },
      }),
      headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': '70000' },
    })
    expect(res.status).toBe(413)
    expect(res.json.error).toBe('Artifact file too large')
  })

  test('a chunked body of another type is a 400', async () => {
    const res = await t.call('POST', ARTIFACTS, {
      token,
      raw: new Blob(['hello']).stream(),
      headers: { 'content-type': 'text/plain' },
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toBe("request Content-Type isn't multipart/form-data")
  })

  afterAll(() => t.close())
})
