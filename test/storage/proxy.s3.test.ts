import { afterAll, beforeAll, expect, test } from 'bun:test'
import { connect } from 'node:net'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import { type StorageServer, serveStorage } from '../../src/server.ts'
import type { S3BlobStore } from '../../src/storage/s3.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { patternBytes, patternStream, readAll, until } from './bytes.ts'
import { rawRequest } from './http.ts'
import { watchMultipartUploads } from './s3-uploads.ts'

// The storage proxy in front of S3: bytes arrive as a stream rather than a file, and must still
// go out with an exact Content-Length.
let s3: FauxqsServer
let t: TestApp
let server: StorageServer
const KEY = 'artifacts/7c9e6679-7425-40de-944b-e07fc1f90ae7'
const SIZE = 9 * 1024 * 1024 + 11
const MAX = 16 * 1024 * 1024
let uploads: ReturnType<typeof watchMultipartUploads>

beforeAll(async () => {
  s3 = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
  t = await createTestApp({
    BENDER_STORAGE: 's3',
    BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    BENDER_S3_BUCKET: `bender-proxy-${process.pid}`,
    BENDER_S3_ACCESS_KEY: 'bender',
    BENDER_S3_SECRET_KEY: 'bender-secret',
    BENDER_S3_DIRECT_DOWNLOADS: 'true',
    BENDER_MAX_ARTIFACT_SIZE: String(MAX),
    BENDER_LOG_LEVEL: 'info',
  })
  uploads = watchMultipartUploads((t.deps.blobs as S3BlobStore).client, t.deps.config.s3!.bucket)
  server = await serveStorage(t.deps, 0)
})
afterAll(async () => {
  await server.stop(true)
  t.close()
  await s3.stop()
})

const target = (url: string) => {
  const u = new URL(url)
  return u.pathname + u.search
}

test('a direct upload through the proxy lands in S3; downloads stream back with exact lengths', async () => {
  const put = await fetch(
    new URL(target(t.deps.links.signUpload(KEY).url), `http://127.0.0.1:${server.port}`),
    {
      method: 'PUT',
      body: patternBytes(0, SIZE),
    },
  )
  expect(put.status).toBe(200)
  expect((await t.deps.blobs.stat(KEY))?.size).toBe(SIZE)

  const path = target(t.deps.links.signDownload(KEY, { filename: 'rootfs.mender' }).url)
  const whole = await rawRequest(
    server.port,
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip`,
  )
  expect(whole.status).toBe(200)
  expect(whole.headers['content-length']).toBe(String(SIZE))
  expect(whole.headers['transfer-encoding']).toBeUndefined()
  expect(whole.headers['content-encoding']).toBeUndefined()
  expect(whole.headers['content-disposition']).toBe('attachment; filename="rootfs.mender"')
  expect(whole.body.equals(Buffer.from(patternBytes(0, SIZE)))).toBe(true)

  const resumed = await rawRequest(
    server.port,
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=8388608-`,
  )
  expect(resumed.status).toBe(206)
  expect(resumed.headers['content-range']).toBe(`bytes 8388608-${SIZE - 1}/${SIZE}`)
  expect(resumed.headers['content-length']).toBe(String(SIZE - 8388608))
  expect(resumed.body.equals(Buffer.from(patternBytes(8388608, SIZE - 8388608)))).toBe(true)

  const head = await rawRequest(server.port, `HEAD ${path} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=-10`)
  expect(head.status).toBe(206)
  expect(head.headers['content-range']).toBe(`bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`)
  expect(head.headers['content-length']).toBe('10')

  const beyond = await rawRequest(
    server.port,
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=${SIZE}-`,
  )
  expect(beyond.status).toBe(416)
  expect(beyond.headers['content-range']).toBe(`bytes */${SIZE}`)
})

test('with BENDER_S3_DIRECT_DOWNLOADS devices get S3 presigned links instead of proxy links', async () => {
  const link = await t.deps.links.download(KEY, { filename: 'rootfs.mender' })
  const url = new URL(link.url)
  expect(url.origin).toBe(`http://127.0.0.1:${s3.port}`)
  expect(url.searchParams.get('X-Amz-Expires')).toBe('900')
  expect(link.expires.getTime()).toBe(t.clock.now().getTime() + 900_000)
  const res = await fetch(url)
  expect(res.status).toBe(200)
  expect((await readAll(res.body!)).length).toBe(SIZE)
  // Uploads always go through the proxy, which enforces the size limit S3 links cannot.
  expect(t.deps.links.signUpload(KEY).url.startsWith(t.deps.config.storagePublicUrl)).toBe(true)
})

test('links are checked and errors are Mender bodies on the node:http server too', async () => {
  const url = new URL(t.deps.links.signDownload(KEY).url)
  url.searchParams.set('expires', '1')
  const tampered = await fetch(`http://127.0.0.1:${server.port}${target(url.href)}`)
  expect(tampered.status).toBe(403)
  expect(await tampered.json()).toEqual({
    error: 'invalid link signature',
    request_id: tampered.headers.get('x-men-requestid'),
  })
  const unknown = await fetch(`http://127.0.0.1:${server.port}/nothing`, {
    headers: { 'x-men-requestid': 'r-9' },
  })
  expect(unknown.status).toBe(404)
  expect(unknown.headers.get('content-type')).toBe('application/json; charset=utf-8')
  expect(await unknown.json()).toEqual({ error: 'not found', request_id: 'r-9' })
})

test('an upload over the size limit is 413 and leaves nothing in S3', async () => {
  const key = 'uploads/too-large'
  const res = await fetch(
    new URL(target(t.deps.links.signUpload(key).url), `http://127.0.0.1:${server.port}`),
    {
      method: 'PUT',
      body: patternStream(MAX + 1).stream,
    },
  )
  expect(res.status).toBe(413)
  expect(((await res.json()) as { error: string }).error).toBe('Artifact file too large')
  expect(await t.deps.blobs.stat(key)).toBeUndefined()
  expect(uploads.started(key).length).toBe(1)
  expect(await uploads.stillOpen(key)).toEqual([])
})

test('an upload the client abandons midway leaves no object and no open multipart upload', async () => {
  const key = 'uploads/abandoned'
  const socket = connect(server.port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(
    `PUT ${target(t.deps.links.signUpload(key).url)} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${MAX}\r\n\r\n`,
  )
  socket.write(patternBytes(0, 10 * 1024 * 1024))
  await until(() => uploads.started(key).length === 1, 'the multipart upload to start')
  socket.destroy()
  const interrupted = () => t.logLines.find((line) => line.includes('key=uploads/abandoned'))
  await until(() => interrupted() !== undefined, 'the interruption to be logged')
  expect(interrupted()).toContain('level=info msg="direct upload interrupted by the client"')
  expect(await t.deps.blobs.stat(key)).toBeUndefined()
  expect(await uploads.stillOpen(key)).toEqual([])
})
