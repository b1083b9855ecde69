import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Config, loadConfig } from '../../src/config.ts'
import { KeyFileError } from '../../src/key-file.ts'
import { createDiskBlobStore } from '../../src/storage/disk.ts'
import { createLinks, InvalidLinkError, type Links } from '../../src/storage/links.ts'
import { TestClock } from '../helpers/app.ts'

let dir: string
let config: Config
let clock: TestClock
let links: Links
const KEY = 'artifacts/0f8fad5b-d9cb-469f-a165-70867728950e'

function open(dataDir: string) {
  const cfg = loadConfig({
    BENDER_DATA_DIR: dataDir,
    BENDER_STORAGE_PUBLIC_URL: 'https://dl.example.com:9443/',
  })
  return { cfg, links: createLinks(cfg, clock, createDiskBlobStore(cfg.storageDir)) }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bender-links-'))
  clock = new TestClock(Date.parse('2030-01-01T00:00:00Z'))
  ;({ cfg: config, links } = open(join(dir, 'data')))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `url` with one query parameter set (or removed, for undefined). */
function withParam(url: string, name: string, value: string | undefined): URL {
  const out = new URL(url)
  if (value === undefined) out.searchParams.delete(name)
  else out.searchParams.set(name, value)
  return out
}

function rejection(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidLinkError)
    return (err as Error).message
  }
  throw new Error('expected the link to be refused')
}

describe('signing', () => {
  test('a download link points at the storage proxy and verifies as GET', () => {
    const link = links.signDownload(KEY, { filename: 'release-1.mender' })
    const url = new URL(link.url)
    expect(url.origin).toBe('https://dl.example.com:9443')
    expect(url.pathname).toBe(`/blobs/${KEY}`)
    expect(url.searchParams.get('expires')).toBe(String(Date.parse('2030-01-01T00:15:00Z') / 1000))
    expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(link.expires).toEqual(new Date('2030-01-01T00:15:00Z'))
    expect(links.verify('GET', url)).toEqual({
      method: 'GET',
      key: KEY,
      filename: 'release-1.mender',
      expires: link.expires,
    })
  })

  test('an upload link lasts an hour and verifies as PUT only', () => {
    const link = links.signUpload(KEY)
    expect(link.expires).toEqual(new Date('2030-01-01T01:00:00Z'))
    expect(links.verify('PUT', new URL(link.url))).toMatchObject({
      method: 'PUT',
      key: KEY,
      filename: undefined,
    })
    expect(rejection(() => links.verify('GET', new URL(link.url)))).toBe('invalid link signature')
    const download = links.signDownload(KEY)
    expect(rejection(() => links.verify('PUT', new URL(download.url)))).toBe('invalid link signature')
  })

  test('ttl can be set per link; file names are reduced to safe characters', () => {
    const link = links.signDownload(KEY, { ttlSeconds: 60, filename: 'my release/1 "x".mender' })
    expect(link.expires).toEqual(new Date('2030-01-01T00:01:00Z'))
    expect(links.verify('GET', new URL(link.url)).filename).toBe('my_release_1__x_.mender')
  })

  test('keys are validated when signing', () => {
    expect(() => links.signDownload('../etc/passwd')).toThrow('invalid blob key')
  })

  test('download() is a proxy link when S3 direct downloads are off', async () => {
    const link = await links.download(KEY, { filename: 'a.mender' })
    expect(link.url.startsWith('https://dl.example.com:9443/blobs/')).toBe(true)
    expect(links.verify('GET', new URL(link.url)).filename).toBe('a.mender')
  })
})

describe('verification', () => {
  test('a link expires at its expiry second', () => {
    const link = links.signDownload(KEY, { ttlSeconds: 100 })
    const url = new URL(link.url)
    clock.advance(99)
    expect(links.verify('GET', url).key).toBe(KEY)
    clock.advance(1)
    expect(rejection(() => links.verify('GET', url))).toBe('link expired')
    clock.advance(-100)
  })

  test('changing any signed field breaks the signature', () => {
    const { url } = links.signDownload(KEY, { filename: 'release-1.mender' })
    const expires = new URL(url).searchParams.get('expires')!
    const signature = new URL(url).searchParams.get('signature')!
    const otherKey = new URL(url)
    otherKey.pathname = '/blobs/artifacts/7c9e6679-7425-40de-944b-e07fc1f90ae7'
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1)
    const tampered: [string, URL][] = [
      ['key', otherKey],
      ['expiry', withParam(url, 'expires', String(Number(expires) + 3600))],
      ['file name', withParam(url, 'filename', 'other.mender')],
      ['file name removed', withParam(url, 'filename', undefined)],
      ['signature', withParam(url, 'signature', flipped)],
      ['signature truncated', withParam(url, 'signature', signature.slice(0, 20))],
      ['signature missing', withParam(url, 'signature', undefined)],
    ]
    for (const [field, bad] of tampered) {
      expect([field, rejection(() => links.verify('GET', bad))]).toEqual([field, 'invalid link signature'])
    }
    const added = withParam(links.signDownload(KEY).url, 'filename', 'added.mender')
    expect(rejection(() => links.verify('GET', added))).toBe('invalid link signature')
  })

  test('malformed links are refused before any signature check', () => {
    const { url } = links.signDownload(KEY)
    expect(rejection(() => links.verify('GET', withParam(url, 'expires', 'soon')))).toBe('invalid link')
    expect(rejection(() => links.verify('GET', withParam(url, 'filename', 'a b')))).toBe('invalid link')
    expect(rejection(() => links.verify('GET', new URL('https://x/blobs/../keys/links.key')))).toBe(
      'not a storage link',
    )
    expect(rejection(() => links.verify('GET', new URL('https://x/blobs/a%20b?expires=1')))).toBe(
      'invalid link',
    )
    expect(rejection(() => links.verify('GET', new URL('https://x/other/path')))).toBe('not a storage link')
  })
})

describe('the link key', () => {
  test('is made on first start, private to the owner, and reused after a restart', () => {
    const path = join(config.dataDir, 'keys', 'links.key')
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(path).size).toBe(32)
    const link = links.signDownload(KEY)
    expect(open(config.dataDir).links.verify('GET', new URL(link.url)).key).toBe(KEY)
    const elsewhere = open(join(dir, 'other')).links
    expect(rejection(() => elsewhere.verify('GET', new URL(link.url)))).toBe('invalid link signature')
  })

  test('a key file too short to be a key is refused', () => {
    const dataDir = join(dir, 'short')
    open(dataDir)
    writeFileSync(join(dataDir, 'keys', 'links.key'), 'short')
    expect(() => open(dataDir)).toThrow(KeyFileError)
  })
})
