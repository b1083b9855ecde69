import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { join } from 'node:path'
import type { Clock } from '../clock.ts'
import type { Config } from '../config.ts'
import { KeyFileError, readOrCreateKeyFile } from '../key-file.ts'
import { assertBlobKey, type BlobStore } from './blobs.ts'

/** HEAD rides on GET links: a device that may download an object may ask for its size. */
export type LinkMethod = 'GET' | 'PUT'

export type SignedLink = { url: string; expires: Date }

export type VerifiedLink = { method: LinkMethod; key: string; filename: string | undefined; expires: Date }

export type Links = {
  /** A storage-proxy GET link. `filename` is what the download is saved as (the key's own name plus `.mender` when absent). */
  signDownload(key: string, options?: { filename?: string; ttlSeconds?: number }): SignedLink
  /** A storage-proxy PUT link for a direct upload into `key`. */
  signUpload(key: string, options?: { ttlSeconds?: number }): SignedLink
  /**
   * The link devices get for an artifact: an S3 presigned URL when BENDER_S3_DIRECT_DOWNLOADS is
   * on, otherwise a storage-proxy link.
   */
  download(key: string, options?: { filename?: string; ttlSeconds?: number }): Promise<SignedLink>
  /** Checks a request to the storage proxy against its signature and expiry; throws InvalidLinkError. */
  verify(method: LinkMethod, url: URL): VerifiedLink
}

export class InvalidLinkError extends Error {}

/** Storage-proxy paths: `/blobs/<key>`. */
export const LINK_PATH_PREFIX = '/blobs/'

const KEY_BYTES = 32

function readOrCreateKey(path: string): Buffer {
  const key = readOrCreateKeyFile(path, () => randomBytes(KEY_BYTES))
  if (key.length < KEY_BYTES)
    throw new KeyFileError(`${path}: a link key must be at least ${KEY_BYTES} bytes`)
  return key
}

// Fields are newline-separated and none can contain a newline (keys and filenames are
// restricted), so no two different links share a signed string.
function signature(secret: Buffer, method: LinkMethod, key: string, expires: number, filename: string) {
  return createHmac('sha256', secret).update(`${method}\n${key}\n${expires}\n${filename}`).digest()
}

const SAFE_FILENAME = /^[A-Za-z0-9._+-]{1,255}$/

/**
 * HMAC-SHA256 signed, expiring links to the storage proxy, with a key made on first start and kept
 * in the data dir so links survive restarts.
 */
export function createLinks(config: Config, clock: Clock, blobs: BlobStore): Links {
  const secret = readOrCreateKey(join(config.dataDir, 'keys', 'links.key'))

  function sign(method: LinkMethod, key: string, ttlSeconds: number, filename?: string): SignedLink {
    assertBlobKey(key)
    const name = filename?.replace(/[^A-Za-z0-9._+-]/g, '_').slice(0, 255)
    const expires = Math.floor(clock.now().getTime() / 1000) + ttlSeconds
    const query = new URLSearchParams({ expires: String(expires) })
    if (name) query.set('filename', name)
    query.set('signature', signature(secret, method, key, expires, name ?? '').toString('base64url'))
    return {
      url: `${config.storagePublicUrl}${LINK_PATH_PREFIX}${key}?${query}`,
      expires: new Date(expires * 1000),
    }
  }

  const links: Links = {
    signDownload: (key, options = {}) =>
      sign('GET', key, options.ttlSeconds ?? config.downloadLinkTtlSeconds, options.filename),

    signUpload: (key, options = {}) => sign('PUT', key, options.ttlSeconds ?? config.uploadLinkTtlSeconds),

    async download(key, options = {}) {
      if (!config.s3?.directDownloads || !blobs.presignGet) return links.signDownload(key, options)
      const ttlSeconds = options.ttlSeconds ?? config.downloadLinkTtlSeconds
      const expires = new Date(clock.now().getTime() + ttlSeconds * 1000)
      const url = await blobs.presignGet(key, { expiresInSeconds: ttlSeconds, filename: options.filename })
      return { url, expires }
    },

    verify(method, url) {
      if (!url.pathname.startsWith(LINK_PATH_PREFIX)) throw new InvalidLinkError('not a storage link')
      const key = url.pathname.slice(LINK_PATH_PREFIX.length)
      const expires = Number(url.searchParams.get('expires'))
      const filename = url.searchParams.get('filename') ?? undefined
      const given = Buffer.from(url.searchParams.get('signature') ?? '', 'base64url')
      try {
        assertBlobKey(key)
      } catch {
        throw new InvalidLinkError('invalid link')
      }
      if (!Number.isSafeInteger(expires) || (filename !== undefined && !SAFE_FILENAME.test(filename))) {
        throw new InvalidLinkError('invalid link')
      }
      const expected = signature(secret, method, key, expires, filename ?? '')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new InvalidLinkError('invalid link signature')
      }
      if (expires * 1000 <= clock.now().getTime()) throw new InvalidLinkError('link expired')
      return { method, key, filename, expires: new Date(expires * 1000) }
    },
  }
  return links
}
