import { resolve } from 'node:path'

/** Log levels in increasing severity; a logger prints its level and everything above it. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type Config = Readonly<{
  dataDir: string
  apiPort: number
  storagePort: number
  publicUrl: string
  storagePublicUrl: string
  adminEmail: string | undefined
  adminPassword: string | undefined
  tlsCert: string | undefined
  tlsKey: string | undefined
  logLevel: LogLevel
  jwtKeyFile: string | undefined
  userTokenTtlSeconds: number
  deviceTokenTtlSeconds: number
  maxDevices: number
  shutdownGraceSeconds: number
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
  return Object.freeze({
    dataDir: resolve(readOptional(env, 'BENDER_DATA_DIR') ?? './data'),
    apiPort,
    storagePort,
    publicUrl: readUrl(env, 'BENDER_PUBLIC_URL', `${scheme}://localhost:${apiPort}`),
    storagePublicUrl: readUrl(env, 'BENDER_STORAGE_PUBLIC_URL', `${scheme}://localhost:${storagePort}`),
    adminEmail,
    adminPassword,
    tlsCert,
    tlsKey,
    logLevel: logLevel as LogLevel,
    jwtKeyFile: readOptional(env, 'BENDER_JWT_KEY'),
    userTokenTtlSeconds: readInt(env, 'BENDER_USER_TOKEN_TTL', 604800, 60, 31536000),
    deviceTokenTtlSeconds: readInt(env, 'BENDER_DEVICE_TOKEN_TTL', 604800, 60, 31536000),
    maxDevices: readInt(env, 'BENDER_MAX_DEVICES', 0, 0, Number.MAX_SAFE_INTEGER),
    shutdownGraceSeconds: readInt(env, 'BENDER_SHUTDOWN_GRACE', 10, 0, 3600),
  })
}
