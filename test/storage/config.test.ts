import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../../src/config.ts'

const base = { BENDER_DATA_DIR: '/srv/bender' }
const s3 = { ...base, BENDER_STORAGE: 's3', BENDER_S3_BUCKET: 'artifacts' }

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('storage settings', () => {
  test('defaults: disk under the data dir, 10 GiB artifacts, 15-minute downloads, 1-hour uploads', () => {
    const config = loadConfig(base)
    expect(config.storage).toBe('disk')
    expect(config.storageDir).toBe('/srv/bender/artifacts')
    expect(config.s3).toBeUndefined()
    expect(config.maxArtifactSize).toBe(10 * 1024 ** 3)
    expect(config.downloadLinkTtlSeconds).toBe(900)
    expect(config.uploadLinkTtlSeconds).toBe(3600)
  })

  test('BENDER_STORAGE_DIR is resolved against the data dir', () => {
    expect(loadConfig({ ...base, BENDER_STORAGE_DIR: 'blobs' }).storageDir).toBe('/srv/bender/blobs')
    expect(loadConfig({ ...base, BENDER_STORAGE_DIR: '/mnt/big' }).storageDir).toBe('/mnt/big')
  })

  test('S3 with only a bucket: AWS defaults, path-style, proxy downloads', () => {
    expect(loadConfig(s3).s3).toEqual({
      endpoint: undefined,
      publicEndpoint: undefined,
      bucket: 'artifacts',
      region: 'us-east-1',
      accessKey: undefined,
      secretKey: undefined,
      forcePathStyle: true,
      directDownloads: false,
    })
  })

  test('S3 with every setting', () => {
    const config = loadConfig({
      ...s3,
      BENDER_STORAGE: 'S3',
      BENDER_S3_ENDPOINT: 'http://minio:9000/',
      BENDER_S3_PUBLIC_ENDPOINT: 'https://s3.example.com',
      BENDER_S3_REGION: 'eu-west-1',
      BENDER_S3_ACCESS_KEY: 'minio',
      BENDER_S3_SECRET_KEY: 'minio-secret',
      BENDER_S3_FORCE_PATH_STYLE: 'false',
      BENDER_S3_DIRECT_DOWNLOADS: 'TRUE',
    })
    expect(config.storage).toBe('s3')
    expect(config.s3).toEqual({
      endpoint: 'http://minio:9000',
      publicEndpoint: 'https://s3.example.com',
      bucket: 'artifacts',
      region: 'eu-west-1',
      accessKey: 'minio',
      secretKey: 'minio-secret',
      forcePathStyle: false,
      directDownloads: true,
    })
  })

  test('sizes and link lifetimes', () => {
    const config = loadConfig({
      ...base,
      BENDER_MAX_ARTIFACT_SIZE: '1048576',
      BENDER_DOWNLOAD_LINK_TTL: '60',
      BENDER_UPLOAD_LINK_TTL: '604800',
    })
    expect(config.maxArtifactSize).toBe(1048576)
    expect(config.downloadLinkTtlSeconds).toBe(60)
    expect(config.uploadLinkTtlSeconds).toBe(604800)
  })

  const invalid: [string, Record<string, string>, string][] = [
    [
      'unknown driver',
      { ...base, BENDER_STORAGE: 'ftp' },
      'BENDER_STORAGE must be one of disk, s3, got "ftp"',
    ],
    ['s3 without a bucket', { ...base, BENDER_STORAGE: 's3' }, 'BENDER_STORAGE=s3 requires BENDER_S3_BUCKET'],
    [
      'bucket name S3 refuses',
      { ...s3, BENDER_S3_BUCKET: 'My_Bucket' },
      'BENDER_S3_BUCKET must be 3-63 lower-case letters, digits, dots or hyphens, got "My_Bucket"',
    ],
    [
      'access key without secret',
      { ...s3, BENDER_S3_ACCESS_KEY: 'minio' },
      'BENDER_S3_ACCESS_KEY and BENDER_S3_SECRET_KEY must be set together',
    ],
    [
      'endpoint that is not a URL',
      { ...s3, BENDER_S3_ENDPOINT: 'minio:9000' },
      'BENDER_S3_ENDPOINT must be an absolute http(s) URL, got "minio:9000"',
    ],
    [
      'public endpoint that is not a URL',
      { ...s3, BENDER_S3_PUBLIC_ENDPOINT: 'ftp://x' },
      'BENDER_S3_PUBLIC_ENDPOINT must be an absolute http(s) URL, got "ftp://x"',
    ],
    [
      'bad region',
      { ...s3, BENDER_S3_REGION: 'EU West' },
      'BENDER_S3_REGION must look like us-east-1, got "EU West"',
    ],
    [
      'non-boolean flag',
      { ...s3, BENDER_S3_FORCE_PATH_STYLE: 'maybe' },
      'BENDER_S3_FORCE_PATH_STYLE must be true or false, got "maybe"',
    ],
    [
      'direct downloads without S3',
      { ...base, BENDER_S3_DIRECT_DOWNLOADS: 'true' },
      'BENDER_S3_DIRECT_DOWNLOADS requires BENDER_STORAGE=s3',
    ],
    [
      'zero artifact size',
      { ...base, BENDER_MAX_ARTIFACT_SIZE: '0' },
      'BENDER_MAX_ARTIFACT_SIZE must be an integer between 1 and 9007199254740991, got "0"',
    ],
    [
      'artifact size with a unit',
      { ...base, BENDER_MAX_ARTIFACT_SIZE: '10G' },
      'BENDER_MAX_ARTIFACT_SIZE must be an integer between 1 and 9007199254740991, got "10G"',
    ],
    [
      'download link past what S3 can presign',
      { ...base, BENDER_DOWNLOAD_LINK_TTL: '604801' },
      'BENDER_DOWNLOAD_LINK_TTL must be an integer between 60 and 604800, got "604801"',
    ],
    [
      'upload link too short',
      { ...base, BENDER_UPLOAD_LINK_TTL: '5' },
      'BENDER_UPLOAD_LINK_TTL must be an integer between 60 and 604800, got "5"',
    ],
  ]
  for (const [label, env, message] of invalid) {
    test(`refuses ${label}`, () => {
      expect(refusal(env)).toBe(message)
    })
  }
})
