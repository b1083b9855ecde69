import { resolve } from 'node:path'

/** Log levels in increasing severity; a logger prints its level and everything above it. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
/** The first is the default. */
export const LOG_FORMATS = ['logfmt', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export type Config = Readonly<{
  dataDir: string
  /** A `postgres://` URL selects PostgreSQL; undefined keeps SQLite in the data dir. */
  databaseUrl: string | undefined
  /** Connections each instance keeps to PostgreSQL at most. */
  databasePoolSize: number
  apiPort: number
  storagePort: number
  publicUrl: string
  storagePublicUrl: string
  adminEmail: string | undefined
  adminPassword: string | undefined
  tlsCert: string | undefined
  tlsKey: string | undefined
  logLevel: LogLevel
  logFormat: LogFormat
  jwtKeyFile: string | undefined
  userTokenTtlSeconds: number
  deviceTokenTtlSeconds: number
  /** Bytes the cache of verified device tokens may take (64 bytes a device; see deviceauth/token-cache.ts). */
  deviceTokenCacheBytes: number
  maxDevices: number
  shutdownGraceSeconds: number
  storage: StorageDriver
  /** Where the disk blob store keeps objects (used when `storage` is `disk`). */
  storageDir: string
  /** Set exactly when `storage` is `s3`. */
  s3: S3Config | undefined
  maxArtifactSize: number
  /** A payload may inflate to this many times its compressed size (beyond 64 MiB), and never past `maxInflatedSize`. */
  maxInflateRatio: number
  maxInflatedSize: number
  downloadLinkTtlSeconds: number
  uploadLinkTtlSeconds: number
  /** 0: no metrics listener. */
  metricsPort: number
  metricsHost: string
  /** When set, `GET /metrics` on the API port answers a request bearing this token. */
  metricsToken: string | undefined
  /** Requests a minute one device token may make (bursts up to as many); 0: no limit. */
  deviceRateLimit: number
  /** Requests a minute one client IP address may make, device-token requests aside; 0: no limit. */
  clientRateLimit: number
  /** Downloads the storage proxy serves at once; 0: no cap. */
  storageMaxDownloads: number
  /** Bytes a second one download may take; 0: no cap. */
  storageDownloadRate: number
  /** Finished device-deployment history and logs older than this many days are purged; 0: kept forever. */
  retentionDays: number
  /** Seconds an API connection may sit idle (keep-alive, or a request that stops sending) before it is closed. */
  idleTimeoutSeconds: number
  /** Seconds a JSON request body may take to arrive in full (408 beyond). */
  bodyTimeoutSeconds: number
  /** Peers whose `X-Forwarded-For` names the client (reverse proxies in front of bender). */
  trustedProxies: readonly string[]
  /** Events older than this are pruned from the outbox. */
  eventRetentionSeconds: number
  /** The most events the outbox keeps; the oldest go first. */
  eventMaxCount: number
  /** Seconds a webhook receiver has to answer. */
  webhookTimeoutSeconds: number
  /** Requests made for one event to one webhook before it is given up. */
  webhookMaxAttempts: number
  /** Unfinished deliveries one webhook may have; beyond it the oldest are given up. */
  webhookMaxPending: number
  /** Remote terminal, file transfer and port forwarding (deviceconnect). */
  connect: ConnectConfig
}>

export type ConnectConfig = Readonly<{
  sessionsPerUser: number
  sessionsPerDevice: number
  /** A session without traffic (keep-alives aside) for this long is ended. */
  idleTimeoutSeconds: number
  /** Message bytes a session may relay, both directions. */
  sessionBytes: number
  /** Terminal output kept for playback per session. */
  recordingBytes: number
  recordingDays: number
  /** Largest file a transfer moves, either way. */
  maxFileSize: number
}>

const STORAGE_DRIVERS = ['disk', 's3'] as const
export type StorageDriver = (typeof STORAGE_DRIVERS)[number]

export type S3Config = Readonly<{
  /** Undefined means AWS itself (the SDK derives the endpoint from the region). */
  endpoint: string | undefined
  /** The address devices use for presigned links when it differs from `endpoint` (e.g. Minio behind a proxy). */
  publicEndpoint: string | undefined
  bucket: string
  region: string
  /** Both undefined means the SDK's default credential chain (environment, instance role, ...). */
  accessKey: string | undefined
  secretKey: string | undefined
  forcePathStyle: boolean
  directDownloads: boolean
}>

type Env = Record<string, string | undefined>

export class ConfigError extends Error {}

function readPort(env: Env, name: string, fallback: number): number {
  return readInt(env, name, fallback, 1, 65535)
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`)
  }
  return value
}

function readUrl(env: Env, name: string, fallback: string): string {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`)
  }
  return raw.replace(/\/+$/, '')
}

function readOptional(env: Env, name: string): string | undefined {
  const raw = env[name]
  return raw === undefined || raw === '' ? undefined : raw
}

/** `postgres://` or `postgresql://`, a host and a database name; the message never repeats a password. */
function readDatabaseUrl(env: Env): string | undefined {
  const raw = readOptional(env, 'BENDER_DATABASE_URL')
  if (raw === undefined) return undefined
  const bad = (why: string) =>
    new ConfigError(`BENDER_DATABASE_URL must look like postgres://user:password@host:5432/database (${why})`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw bad('not a URL')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw bad(`scheme "${url.protocol}"`)
  if (url.hostname === '' && !url.searchParams.get('host')) throw bad('no host')
  if (url.pathname.length <= 1 || url.pathname.slice(1).includes('/')) throw bad('no database name')
  return raw
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = readOptional(env, name)?.toLowerCase()
  if (raw === undefined) return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`)
}

/** A comma-separated list of IP addresses. */
function readAddresses(env: Env, name: string): readonly string[] {
  const list = (readOptional(env, name) ?? '').split(',').map((item) => item.trim())
  const addresses = list.filter((item) => item !== '')
  if (addresses.length === 0) return Object.freeze(addresses)
  // Loading node:net is a noticeable share of start-up: only when there are addresses to check.
  const { isIP } = require('node:net') as typeof import('node:net')
  const bad = addresses.find((item) => isIP(item) === 0)
  if (bad !== undefined)
    throw new ConfigError(`${name} must be a comma-separated list of IP addresses, got "${bad}"`)
  return Object.freeze(addresses)
}

// AWS's rules for new buckets, which Minio enforces too; catching them here beats an S3 error at start.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

function readS3(env: Env): S3Config {
  const bucket = readOptional(env, 'BENDER_S3_BUCKET')
  if (bucket === undefined) throw new ConfigError('BENDER_STORAGE=s3 requires BENDER_S3_BUCKET')
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new ConfigError(
      `BENDER_S3_BUCKET must be 3-63 lower-case letters, digits, dots or hyphens, got "${bucket}"`,
    )
  }
  const accessKey = readOptional(env, 'BENDER_S3_ACCESS_KEY')
  const secretKey = readOptional(env, 'BENDER_S3_SECRET_KEY')
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new ConfigError('BENDER_S3_ACCESS_KEY and BENDER_S3_SECRET_KEY must be set together')
  }
  const region = readOptional(env, 'BENDER_S3_REGION') ?? 'us-east-1'
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw new ConfigError(`BENDER_S3_REGION must look like us-east-1, got "${region}"`)
  }
  return Object.freeze({
    endpoint: readUrl(env, 'BENDER_S3_ENDPOINT', '') || undefined,
    publicEndpoint: readUrl(env, 'BENDER_S3_PUBLIC_ENDPOINT', '') || undefined,
    bucket,
    region,
    accessKey,
    secretKey,
    forcePathStyle: readBool(env, 'BENDER_S3_FORCE_PATH_STYLE', true),
    directDownloads: readBool(env, 'BENDER_S3_DIRECT_DOWNLOADS', false),
  })
}

function readConnect(env: Env): ConnectConfig {
  return Object.freeze({
    sessionsPerUser: readInt(env, 'BENDER_CONNECT_SESSIONS_PER_USER', 10, 1, 10_000),
    // mender-connect itself refuses a 17th shell.
    sessionsPerDevice: readInt(env, 'BENDER_CONNECT_SESSIONS_PER_DEVICE', 16, 1, 10_000),
    idleTimeoutSeconds: readInt(env, 'BENDER_CONNECT_IDLE_TIMEOUT', 1800, 10, 604800),
    sessionBytes: readInt(env, 'BENDER_CONNECT_SESSION_BYTES', 1024 ** 3, 1024, Number.MAX_SAFE_INTEGER),
    // Mender's own limit on what a session may record.
    recordingBytes: readInt(env, 'BENDER_CONNECT_RECORDING_BYTES', 8 * 1024 ** 2, 0, 1024 ** 3),
    recordingDays: readInt(env, 'BENDER_CONNECT_RECORDING_DAYS', 30, 1, 3650),
    maxFileSize: readInt(env, 'BENDER_CONNECT_MAX_FILE_SIZE', 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
  })
}

function readStorage(env: Env) {
  const storage = readOptional(env, 'BENDER_STORAGE')?.toLowerCase() ?? 'disk'
  if (!(STORAGE_DRIVERS as readonly string[]).includes(storage)) {
    throw new ConfigError(`BENDER_STORAGE must be one of ${STORAGE_DRIVERS.join(', ')}, got "${storage}"`)
  }
  if (storage === 'disk' && readBool(env, 'BENDER_S3_DIRECT_DOWNLOADS', false)) {
    throw new ConfigError('BENDER_S3_DIRECT_DOWNLOADS requires BENDER_STORAGE=s3')
  }
  return { storage: storage as StorageDriver, s3: storage === 's3' ? readS3(env) : undefined }
}

function readMetrics(env: Env, apiPort: number, storagePort: number) {
  const metricsPort = readInt(env, 'BENDER_METRICS_PORT', 0, 0, 65535)
  if (metricsPort !== 0 && (metricsPort === apiPort || metricsPort === storagePort)) {
    throw new ConfigError('BENDER_METRICS_PORT must differ from the API and storage ports')
  }
  const metricsToken = readOptional(env, 'BENDER_METRICS_TOKEN')
  // A token on the public port is all that guards the metrics: a short one could be guessed.
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    throw new ConfigError('BENDER_METRICS_TOKEN must be 16 to 256 printable ASCII characters without spaces')
  }
  return { metricsPort, metricsHost: readOptional(env, 'BENDER_METRICS_HOST') ?? '127.0.0.1', metricsToken }
}

/** Reads and validates every setting once; throws ConfigError with a message naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const apiPort = readPort(env, 'BENDER_API_PORT', 8080)
  const storagePort = readPort(env, 'BENDER_STORAGE_PORT', 9000)
  if (apiPort === storagePort) {
    throw new ConfigError('BENDER_API_PORT and BENDER_STORAGE_PORT must differ')
  }
  const tlsCert = readOptional(env, 'BENDER_TLS_CERT')
  const tlsKey = readOptional(env, 'BENDER_TLS_KEY')
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('BENDER_TLS_CERT and BENDER_TLS_KEY must be set together')
  }
  const scheme = tlsCert ? 'https' : 'http'
  const adminEmail = readOptional(env, 'BENDER_ADMIN_EMAIL')
  const adminPassword = readOptional(env, 'BENDER_ADMIN_PASSWORD')
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError('BENDER_ADMIN_EMAIL and BENDER_ADMIN_PASSWORD must be set together')
  }
  const logLevel = (readOptional(env, 'BENDER_LOG_LEVEL') ?? 'info').toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`BENDER_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  }
  const logFormat = (readOptional(env, 'BENDER_LOG_FORMAT') ?? LOG_FORMATS[0]).toLowerCase()
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(`BENDER_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, got "${logFormat}"`)
  }
  const dataDir = resolve(readOptional(env, 'BENDER_DATA_DIR') ?? './data')
  return Object.freeze({
    dataDir,
    databaseUrl: readDatabaseUrl(env),
    databasePoolSize: readInt(env, 'BENDER_DATABASE_POOL_SIZE', 20, 2, 1000),
    apiPort,
    storagePort,
    publicUrl: readUrl(env, 'BENDER_PUBLIC_URL', `${scheme}://localhost:${apiPort}`),
    storagePublicUrl: readUrl(env, 'BENDER_STORAGE_PUBLIC_URL', `${scheme}://localhost:${storagePort}`),
    adminEmail,
    adminPassword,
    tlsCert,
    tlsKey,
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat,
    jwtKeyFile: readOptional(env, 'BENDER_JWT_KEY'),
    userTokenTtlSeconds: readInt(env, 'BENDER_USER_TOKEN_TTL', 604800, 60, 31536000),
    deviceTokenTtlSeconds: readInt(env, 'BENDER_DEVICE_TOKEN_TTL', 604800, 60, 31536000),
    // 256 MiB hold two million devices' tokens; a fleet beyond re-verifies the tokens evicted.
    deviceTokenCacheBytes: readInt(env, 'BENDER_DEVICE_TOKEN_CACHE_MB', 256, 2, 1_048_576) * 1024 ** 2,
    maxDevices: readInt(env, 'BENDER_MAX_DEVICES', 0, 0, Number.MAX_SAFE_INTEGER),
    shutdownGraceSeconds: readInt(env, 'BENDER_SHUTDOWN_GRACE', 10, 0, 3600),
    ...readStorage(env),
    storageDir: resolve(dataDir, readOptional(env, 'BENDER_STORAGE_DIR') ?? 'artifacts'),
    maxArtifactSize: readInt(env, 'BENDER_MAX_ARTIFACT_SIZE', 10 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    maxInflateRatio: readInt(env, 'BENDER_MAX_INFLATE_RATIO', 1000, 1, 1_000_000),
    maxInflatedSize: readInt(env, 'BENDER_MAX_INFLATED_SIZE', 64 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    // Mender hands out 15-minute download links; S3 refuses presigned links longer than 7 days.
    downloadLinkTtlSeconds: readInt(env, 'BENDER_DOWNLOAD_LINK_TTL', 900, 60, 604800),
    // Mender's direct-upload links last an hour.
    uploadLinkTtlSeconds: readInt(env, 'BENDER_UPLOAD_LINK_TTL', 3600, 60, 604800),
    ...readMetrics(env, apiPort, storagePort),
    // A Mender client makes a handful of requests a minute at most (during an update); 120 never touches one.
    deviceRateLimit: readInt(env, 'BENDER_DEVICE_RATE_LIMIT', 120, 0, 1_000_000),
    // 100 a second on average, for scripts, the web UI and devices' auth requests behind one NAT.
    clientRateLimit: readInt(env, 'BENDER_CLIENT_RATE_LIMIT', 6000, 0, 100_000_000),
    storageMaxDownloads: readInt(env, 'BENDER_STORAGE_MAX_DOWNLOADS', 0, 0, 1_000_000),
    storageDownloadRate: readInt(env, 'BENDER_STORAGE_DOWNLOAD_RATE', 0, 0, Number.MAX_SAFE_INTEGER),
    retentionDays: readInt(env, 'BENDER_RETENTION_DAYS', 90, 0, 36500),
    trustedProxies: readAddresses(env, 'BENDER_TRUSTED_PROXIES'),
    idleTimeoutSeconds: readInt(env, 'BENDER_IDLE_TIMEOUT', 30, 1, 255),
    bodyTimeoutSeconds: readInt(env, 'BENDER_BODY_TIMEOUT', 30, 1, 3600),
    connect: readConnect(env),
    eventRetentionSeconds: readInt(env, 'BENDER_EVENT_RETENTION', 604800, 60, 31536000),
    eventMaxCount: readInt(env, 'BENDER_EVENT_MAX_COUNT', 1_000_000, 100, Number.MAX_SAFE_INTEGER),
    webhookTimeoutSeconds: readInt(env, 'BENDER_WEBHOOK_TIMEOUT', 10, 1, 300),
    webhookMaxAttempts: readInt(env, 'BENDER_WEBHOOK_MAX_ATTEMPTS', 12, 1, 1000),
    webhookMaxPending: readInt(env, 'BENDER_WEBHOOK_MAX_PENDING', 10_000, 10, 10_000_000),
  })
}
