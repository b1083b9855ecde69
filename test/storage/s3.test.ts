import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { HeadBucketCommand } from '@aws-sdk/client-s3'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import { systemClock } from '../../src/clock.ts'
import type { S3Config } from '../../src/config.ts'
import { BlobExistsError } from '../../src/storage/blobs.ts'
import { createS3BlobStore } from '../../src/storage/s3.ts'
import { TestClock } from '../helpers/app.ts'
import { blobStoreContract } from './blobs.contract.ts'
import { patternStream, readAll } from './bytes.ts'
import { watchMultipartUploads } from './s3-uploads.ts'

// fauxqs is an S3-compatible server that runs in this process on a loopback port. Unlike s3rver it
// implements AbortMultipartUpload and suffix ranges, both of which the store relies on.
let server: FauxqsServer
beforeAll(async () => {
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
})
afterAll(() => server.stop())

function s3Config(bucket: string, overrides: Partial<S3Config> = {}): S3Config {
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    publicEndpoint: undefined,
    bucket,
    region: 'us-east-1',
    accessKey: 'bender',
    secretKey: 'bender-secret',
    forcePathStyle: true,
    directDownloads: false,
    ...overrides,
  }
}

let buckets = 0
const freshBucket = () => `bender-test-${process.pid}-${++buckets}`

blobStoreContract('S3', async () => {
  const bucket = freshBucket()
  const store = await createS3BlobStore(s3Config(bucket), systemClock)
  const uploads = watchMultipartUploads(store.client, bucket)
  return {
    store,
    async leftovers(key) {
      // A failure past the first part must have started a multipart upload, or the test proved nothing.
      if (uploads.started(key).length === 0) return ['(no multipart upload was started)']
      return uploads.stillOpen(key)
    },
    async close() {
      store.close()
    },
  }
})

describe('S3 blob store', () => {
  test('creates the bucket when it is missing and opens an existing one', async () => {
    const bucket = freshBucket()
    const first = await createS3BlobStore(s3Config(bucket), systemClock)
    await first.client.send(new HeadBucketCommand({ Bucket: bucket }))
    await first.put('kept', patternStream(10).stream)
    first.close()
    const second = await createS3BlobStore(s3Config(bucket), systemClock)
    expect((await second.stat('kept'))?.size).toBe(10)
    second.close()
  })

  test('presigned GET links name the artifact type and file, expire, and fetch the object', async () => {
    const clock = new TestClock(Date.parse('2030-01-02T03:04:05Z'))
    const store = await createS3BlobStore(s3Config(freshBucket()), clock)
    await store.put('artifacts/one', patternStream(5000).stream)
    const url = new URL(
      await store.presignGet!('artifacts/one', { expiresInSeconds: 900, filename: 'release 1.mender' }),
    )
    expect(url.origin).toBe(`http://127.0.0.1:${server.port}`)
    expect(url.pathname).toEndWith('/artifacts/one')
    const query = url.searchParams
    expect(query.get('response-content-type')).toBe('application/vnd.mender-artifact')
    expect(query.get('response-content-disposition')).toBe('attachment; filename="release_1.mender"')
    expect(query.get('X-Amz-Expires')).toBe('900')
    expect(query.get('X-Amz-Date')).toBe('20300102T030405Z')
    expect(query.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/)
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect((await readAll(res.body!)).length).toBe(5000)
    store.close()
  })

  test('a put asks S3 not to replace an object (If-None-Match: *); its refusal is BlobExistsError', async () => {
    // fauxqs ignores conditional writes, so the store's side is checked here: the header on the
    // single-request and the multipart path, and a 412 answer mapped to BlobExistsError.
    const store = await createS3BlobStore(s3Config(freshBucket()), systemClock)
    const sent: Record<string, string | undefined> = {}
    let refuse = false
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers
        sent[context.commandName ?? ''] = headers['if-none-match']
        if (refuse)
          throw Object.assign(new Error('PreconditionFailed'), { $metadata: { httpStatusCode: 412 } })
        return next(args)
      },
      { step: 'finalizeRequest', name: 'captureConditional' },
    )
    await store.put('artifacts/small', patternStream(1000).stream)
    expect(sent.PutObjectCommand).toBe('*')
    await store.put('artifacts/large', patternStream(12 * 1024 * 1024).stream)
    expect(sent.CompleteMultipartUploadCommand).toBe('*')
    refuse = true
    await expect(store.put('artifacts/small', patternStream(10).stream)).rejects.toBeInstanceOf(
      BlobExistsError,
    )
    store.close()
  })

  test('presigned links use the public endpoint when one is set', async () => {
    const store = await createS3BlobStore(
      s3Config(freshBucket(), { publicEndpoint: 'https://s3.example.com', forcePathStyle: true }),
      systemClock,
    )
    const url = new URL(await store.presignGet!('artifacts/two', { expiresInSeconds: 60 }))
    expect(url.origin).toBe('https://s3.example.com')
    expect(url.searchParams.get('response-content-disposition')).toBe('attachment; filename="two.mender"')
    store.close()
  })
})
