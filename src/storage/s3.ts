import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { Clock } from '../clock.ts'
import type { S3Config } from '../config.ts'
import {
  ARTIFACT_CONTENT_TYPE,
  assertBlobKey,
  attachmentDisposition,
  BlobExistsError,
  type BlobInfo,
  type BlobStore,
  RangeNotSatisfiableError,
  resolveRange,
} from './blobs.ts'

export type S3BlobStore = BlobStore & { readonly client: S3Client }

/**
 * Multipart upload keeps at most partSize x (queueSize + 1) bytes in memory per put. 8 MiB parts
 * reach S3's 10,000-part cap at 78 GiB, far above the largest artifact allowed.
 */
export type S3Tuning = { partSize: number; queueSize: number }

const DEFAULT_TUNING: S3Tuning = { partSize: 8 * 1024 ** 2, queueSize: 2 }

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
}

function clientFor(s3: S3Config, endpoint: string | undefined): S3Client {
  return new S3Client({
    endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials:
      s3.accessKey && s3.secretKey ? { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } : undefined,
    // The SDK's default per-request CRC checksums are newer than several S3-compatible servers
    // accept; the artifact's own manifest checksums are verified on every upload anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
}

function rangeHeader(range: { start: number; end?: number }): string {
  return `bytes=${range.start}-${range.end ?? ''}`
}

function parseContentRange(value: string): { start: number; end: number; size: number } {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value)
  if (!match) throw new Error(`unexpected Content-Range from S3: ${value}`)
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) }
}

async function ensureBucket(client: S3Client, s3: S3Config): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: s3.bucket }))
    return
  } catch (err) {
    if (httpStatus(err) !== 404) throw err
  }
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: s3.bucket,
        // us-east-1 is the one region that refuses to be named as a location constraint.
        CreateBucketConfiguration:
          s3.region === 'us-east-1'
            ? undefined
            : { LocationConstraint: s3.region as BucketLocationConstraint },
      }),
    )
  } catch (err) {
    // Another instance created it between our two calls.
    if ((err as Error).name !== 'BucketAlreadyOwnedByYou') throw err
  }
}

/** An S3 (AWS, Minio, R2, ...) bucket as a blob store; creates the bucket when it is missing. */
export async function createS3BlobStore(
  s3: S3Config,
  clock: Clock,
  tuning: S3Tuning = DEFAULT_TUNING,
): Promise<S3BlobStore> {
  const client = clientFor(s3, s3.endpoint)
  // Presigning is offline, so a second client for the address devices see costs nothing.
  const presigner = s3.publicEndpoint ? clientFor(s3, s3.publicEndpoint) : client
  const Bucket = s3.bucket
  await ensureBucket(client, s3)

  async function stat(key: string): Promise<BlobInfo | undefined> {
    assertBlobKey(key)
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket, Key: key }))
      return { size: head.ContentLength ?? 0, mtime: head.LastModified ?? new Date(0) }
    } catch (err) {
      if (httpStatus(err) === 404) return undefined
      throw err
    }
  }

  /** For a range that selects nothing: undefined when the object is missing, otherwise the error. */
  async function unsatisfiable(key: string): Promise<undefined> {
    const info = await stat(key)
    if (info) throw new RangeNotSatisfiableError(info.size)
    return undefined
  }

  return {
    client,

    async ping() {
      await client.send(new HeadBucketCommand({ Bucket }))
    },

    async put(key, source) {
      assertBlobKey(key)
      // A multipart upload's parts stay invisible until it completes; on a failure Upload
      // aborts it, so S3 keeps neither an object nor orphaned parts. `If-None-Match: *` makes S3
      // refuse to complete it over an existing object.
      try {
        await new Upload({
          client,
          params: { Bucket, Key: key, Body: source, IfNoneMatch: '*' },
          ...tuning,
        }).done()
      } catch (err) {
        if (httpStatus(err) === 412) throw new BlobExistsError(key)
        throw err
      }
    },

    async get(key, wanted) {
      assertBlobKey(key)
      let range: { start: number; end?: number } | undefined
      if (wanted && 'suffix' in wanted) {
        // S3-compatible servers disagree on suffix ranges (some refuse one longer than the object,
        // some ignore them), so they are resolved here against the size; the mender client only
        // ever resumes with `start-`, so the extra HEAD costs devices nothing.
        const info = await stat(key)
        if (!info) return undefined
        range = resolveRange(wanted, info.size)
        if (!range) throw new RangeNotSatisfiableError(info.size)
      } else {
        range = wanted
        // A reversed range selects nothing; servers differ on what they answer to one.
        if (range?.end !== undefined && range.end < range.start) return unsatisfiable(key)
      }
      try {
        const object = await client.send(
          new GetObjectCommand({ Bucket, Key: key, Range: range ? rangeHeader(range) : undefined }),
        )
        const body = object.Body!.transformToWebStream() as ReadableStream<Uint8Array>
        if (object.ContentRange) return { body, ...parseContentRange(object.ContentRange) }
        const size = object.ContentLength ?? 0
        return { body, size, start: 0, end: size - 1 }
      } catch (err) {
        if (httpStatus(err) === 404) return undefined
        if (httpStatus(err) === 416) return unsatisfiable(key)
        throw err
      }
    },

    stat,

    async delete(key) {
      assertBlobKey(key)
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }))
    },

    async *list(prefix = '') {
      for await (const page of paginateListObjectsV2({ client }, { Bucket, Prefix: prefix || undefined })) {
        for (const object of page.Contents ?? []) {
          if (object.Key) yield { key: object.Key, mtime: object.LastModified ?? new Date(0) }
        }
      }
    },

    async presignGet(key, { expiresInSeconds, filename }) {
      assertBlobKey(key)
      const command = new GetObjectCommand({
        Bucket,
        Key: key,
        ResponseContentType: ARTIFACT_CONTENT_TYPE,
        ResponseContentDisposition: attachmentDisposition(key, filename),
      })
      return getSignedUrl(presigner, command, { expiresIn: expiresInSeconds, signingDate: clock.now() })
    },

    close() {
      client.destroy()
      if (presigner !== client) presigner.destroy()
    },
  }
}
