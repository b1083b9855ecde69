import { describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { ConfigError, loadConfig } from '../src/config.ts'

describe('loadConfig', () => {
  test('embedded defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      dataDir: resolve('./data'),
      apiPort: 8080,
      storagePort: 9000,
      publicUrl: 'http://localhost:8080',
      storagePublicUrl: 'http://localhost:9000',
      logLevel: 'info',
      maxDevices: 0,
      deviceTokenCacheBytes: 256 * 1024 ** 2,
      connect: {
        sessionsPerUser: 10,
        sessionsPerDevice: 16,
        idleTimeoutSeconds: 1800,
        sessionBytes: 1024 ** 3,
        recordingBytes: 8 * 1024 ** 2,
        recordingDays: 30,
        maxFileSize: 1024 ** 3,
      },
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(config.databaseUrl).toBeUndefined()
    expect(loadConfig({ BENDER_DEVICE_TOKEN_CACHE_MB: '1536' }).deviceTokenCacheBytes).toBe(1536 * 1024 ** 2)
  })

  test('BENDER_DATABASE_URL takes postgres:// and postgresql:// URLs, sockets by ?host=', () => {
    for (const url of [
      'postgres://bender:pw@db.example.com:5432/bender',
      'postgresql://db.example.com/bender?sslmode=require',
      'postgres:///bender?host=/run/postgresql',
    ])
      expect(loadConfig({ BENDER_DATABASE_URL: url }).databaseUrl).toBe(url)
  })

  test('derived URLs follow ports and TLS; explicit URLs lose trailing slashes', () => {
    const config = loadConfig({
      BENDER_API_PORT: '443',
      BENDER_STORAGE_PORT: '9443',
      BENDER_TLS_CERT: 'c.pem',
      BENDER_TLS_KEY: 'k.pem',
    })
    expect(config.publicUrl).toBe('https://localhost:443')
    expect(config.storagePublicUrl).toBe('https://localhost:9443')
    expect(loadConfig({ BENDER_PUBLIC_URL: 'https://ota.example.com/' }).publicUrl).toBe(
      'https://ota.example.com',
    )
  })

  test.each([
    [{ BENDER_API_PORT: 'http' }, 'BENDER_API_PORT must be an integer between 1 and 65535, got "http"'],
    [{ BENDER_STORAGE_PORT: '70000' }, 'BENDER_STORAGE_PORT must be an integer'],
    [{ BENDER_API_PORT: '9000' }, 'BENDER_API_PORT and BENDER_STORAGE_PORT must differ'],
    [{ BENDER_PUBLIC_URL: 'ota.example.com' }, 'BENDER_PUBLIC_URL must be an absolute http(s) URL'],
    [{ BENDER_STORAGE_PUBLIC_URL: 'ftp://x' }, 'BENDER_STORAGE_PUBLIC_URL must be an absolute http(s) URL'],
    [{ BENDER_TLS_CERT: 'c.pem' }, 'BENDER_TLS_CERT and BENDER_TLS_KEY must be set together'],
    [
      { BENDER_CONNECT_SESSIONS_PER_USER: '0' },
      'BENDER_CONNECT_SESSIONS_PER_USER must be an integer between 1',
    ],
    [{ BENDER_CONNECT_IDLE_TIMEOUT: '5' }, 'BENDER_CONNECT_IDLE_TIMEOUT must be an integer between 10'],
    [{ BENDER_CONNECT_MAX_FILE_SIZE: 'big' }, 'BENDER_CONNECT_MAX_FILE_SIZE must be an integer'],
    [{ BENDER_ADMIN_EMAIL: 'a@b.c' }, 'BENDER_ADMIN_EMAIL and BENDER_ADMIN_PASSWORD must be set together'],
    [{ BENDER_LOG_LEVEL: 'loud' }, 'BENDER_LOG_LEVEL must be one of debug, info, warn, error'],
    [{ BENDER_MAX_DEVICES: '-1' }, 'BENDER_MAX_DEVICES must be an integer'],
    [{ BENDER_USER_TOKEN_TTL: '10' }, 'BENDER_USER_TOKEN_TTL must be an integer between 60'],
    [{ BENDER_DEVICE_TOKEN_CACHE_MB: '1' }, 'BENDER_DEVICE_TOKEN_CACHE_MB must be an integer between 2'],
    [{ BENDER_DATABASE_URL: 'db.example.com' }, 'BENDER_DATABASE_URL must look like postgres://'],
    [{ BENDER_DATABASE_URL: 'mysql://u@db/bender' }, 'BENDER_DATABASE_URL must look like postgres://'],
    [{ BENDER_DATABASE_URL: 'postgres://u@db.example.com' }, '(no database name)'],
    [{ BENDER_DATABASE_POOL_SIZE: '1' }, 'BENDER_DATABASE_POOL_SIZE must be an integer between 2'],
  ])('%j is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(message)
  })
})

test('the README documents every setting the server reads', async () => {
  const source = await Bun.file(resolve(import.meta.dir, '../src/config.ts')).text()
  const readme = await Bun.file(resolve(import.meta.dir, '../README.md')).text()
  const names = new Set(source.match(/BENDER_[A-Z0-9_]+/g))
  expect(names.size).toBeGreaterThan(10)
  for (const name of names) expect(readme).toContain(`\`${name}\``)
})
