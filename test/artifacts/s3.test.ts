import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import type { S3BlobStore } from '../../src/storage/s3.ts'
import {
  ARTIFACTS,
  blobKeys,
  makeArtifact,
  multipartBytes,
  postMultipart,
  upload,
} from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { watchMultipartUploads } from '../storage/s3-uploads.ts'

// Uploads stream into S3 through a multipart upload while they are parsed; links are S3's own.
let s3: FauxqsServer
let dir: string
let t: TestApp
let token: string
let uploads: ReturnType<typeof watchMultipartUploads>

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-artifacts-s3-'))
  s3 = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
  t = await createTestApp({
    BENDER_STORAGE: 's3',
    BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    BENDER_S3_BUCKET: `bender-artifacts-${process.pid}`,
    BENDER_S3_ACCESS_KEY: 'bender',
    BENDER_S3_SECRET_KEY: 'bender-secret',
    BENDER_S3_DIRECT_DOWNLOADS: 'true',
  })
  uploads = watchMultipartUploads((t.deps.blobs as S3BlobStore).client, t.deps.config.s3!.bucket)
  token = (await loginAs(t)).token
})
afterAll(async () => {
  t.close()
  await s3.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('an upload lands in S3 unchanged and its download link is an S3 presigned URL', async () => {
  // Larger than one 8 MiB part, so the object is written as a multipart upload.
  const payload = join(dir, 'payload.bin')
  await Bun.write(payload, crypto.getRandomValues(new Uint8Array(10 * 1024 * 1024)))
  const path = await makeArtifact(dir, { name: 's3-art', files: [payload], compression: 'none' })
  const res = await upload(t, token, path)
  expect(res.status).toBe(201)
  const id = res.headers.get('location')!.split('/').at(-1)!
  expect(await blobKeys(t)).toEqual([id])
  expect(uploads.started(id)).toHaveLength(1)

  const link = await t.call('GET', `${ARTIFACTS}/${id}/download`, { token })
  expect(link.status).toBe(200)
  const uri = new URL(link.json.uri)
  expect(uri.origin).toBe(`http://127.0.0.1:${s3.port}`)
  expect(uri.searchParams.get('X-Amz-Expires')).toBe('900')
  const download = await fetch(uri)
  expect(download.status).toBe(200)
  const bytes = new Uint8Array(await download.arrayBuffer())
  expect(Buffer.from(bytes).equals(new Uint8Array(await Bun.file(path).arrayBuffer()))).toBe(true)
})

test('a bad artifact aborts its S3 upload: no object and no open multipart upload remain', async () => {
  const payload = join(dir, 'payload-2.bin')
  const payloadBytes = crypto.getRandomValues(new Uint8Array(10 * 1024 * 1024))
  await Bun.write(payload, payloadBytes)
  const path = await makeArtifact(dir, { name: 's3-bad', files: [payload], compression: 'none' })
  const bytes = new Uint8Array(await Bun.file(path).arrayBuffer())
  // The payload's last bytes: the checksum fails after the first part has gone to S3.
  const at = Buffer.from(bytes).indexOf(payloadBytes.subarray(payloadBytes.length - 64))
  expect(at).toBeGreaterThan(8 * 1024 * 1024)
  bytes[at] = (bytes[at]! + 1) % 256
  const id = crypto.randomUUID()
  const before = await blobKeys(t)
  const res = await postMultipart(
    t,
    token,
    multipartBytes([
      { name: 'artifact_id', content: id },
      { name: 'artifact', content: bytes },
    ]),
  )
  expect(res.status).toBe(400)
  expect(res.json.error).toContain('invalid checksum')
  expect(await blobKeys(t)).toEqual(before)
  expect(uploads.started(id)).toHaveLength(1)
  expect(await uploads.stillOpen(id)).toEqual([])
})
