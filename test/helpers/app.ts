import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPgDatabase } from '../../db/pg.ts'
import { createApp, createServices, stopServices } from '../../src/app.ts'
import type { Clock } from '../../src/clock.ts'
import { loadConfig } from '../../src/config.ts'
import { buildDeps, closeDeps, sqliteOf } from '../../src/deps.ts'
import { createLogger } from '../../src/log.ts'
import { pgSql, sqliteSql, type TestSql, testEngineEnv } from './database.ts'

/** A clock tests can move. */
export class TestClock implements Clock {
  constructor(private ms = Date.now()) {}
  now(): Date {
    return new Date(this.ms)
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000
  }
}

export type Reply = { status: number; headers: Headers; text: string; json: any }

export type CallOptions = {
  token?: string
  body?: unknown
  /** A body sent as is (no JSON encoding, no content type added). */
  raw?: ConstructorParameters<typeof Request>[1] extends infer I
    ? I extends { body?: infer B }
      ? B
      : never
    : never
  headers?: Record<string, string>
}

/** One RSA key for every test app of a run: key generation is the slow part of a fresh data dir. */
let sharedKey: string | undefined
/** Generated once per test process and written into each app's own data dir (removed with it). */
export function jwtKeyPem(): string {
  sharedKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string
  return sharedKey
}

/** Anything the tests send API calls to: an in-process app, or a server (or proxy) over HTTP. */
export type Caller = { call(method: string, path: string, options?: CallOptions): Promise<Reply> }

/** A `call` over `handle`: JSON bodies encoded, the token as a bearer header, the reply read whole. */
function caller(handle: (request: Request) => Promise<Response>): Caller['call'] {
  return async (method, path, options = {}) => {
    const headers = new Headers(options.headers)
    if (options.token) headers.set('authorization', `Bearer ${options.token}`)
    let body = options.raw
    if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      if (!headers.has('content-type')) headers.set('content-type', 'application/json')
    }
    const response = await handle(new Request(`http://localhost${path}`, { method, headers, body }))
    const text = await response.text()
    let json: unknown
    try {
      json = text ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, text, json }
  }
}

/** Calls to a server at `baseUrl` over HTTP, shaped like an in-process app's. */
export function httpCaller(baseUrl: string): Caller {
  return {
    call: caller((request) => {
      const url = new URL(request.url)
      return fetch(baseUrl + url.pathname + url.search, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
      })
    }),
  }
}

export async function createTestApp(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bender-test-'))
  const engineEnv = await testEngineEnv()
  const config = loadConfig({
    ...engineEnv,
    BENDER_DATA_DIR: dir,
    BENDER_LOG_LEVEL: 'error',
    BENDER_JWT_KEY: join(dir, 'keys', 'jwt.pem'),
    ...env,
  })
  const clock = new TestClock()
  const logLines: string[] = []
  const log = createLogger(config.logLevel, (line) => logLines.push(line))
  mkdirSync(join(dir, 'keys'), { recursive: true })
  writeFileSync(config.jwtKeyFile!, jwtKeyPem(), { mode: 0o600 })
  const deps = await buildDeps(config, { clock, log })
  const services = createServices(deps, await deps.database.openCluster(log))
  const app = createApp(deps, services)
  // Tests read what was stored through their own connection, whichever the engine.
  const pg = config.databaseUrl ? await openPgDatabase(config.databaseUrl, { max: 2 }) : undefined
  const sql: TestSql = pg ? pgSql(pg) : sqliteSql(sqliteOf(deps))

  const call = caller((request) => app.handle(request))

  return {
    app,
    deps,
    services,
    clock,
    dir,
    logLines,
    call,
    /** The engine this app runs on. */
    engine: deps.stores.engine,
    sql,
    /** Rows of `table` (matching `where`, with `?` parameters), on either engine. */
    async count(table: string, where = '', ...params: unknown[]): Promise<number> {
      const [row] = await sql(
        `SELECT CAST(count(*) AS INTEGER) AS n FROM ${table} ${where && `WHERE ${where}`}`,
        ...params,
      )
      return Number(row?.n)
    },
    async close() {
      await stopServices(services)
      await closeDeps(deps)
      await pg?.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>

/** Creates a user through the service and logs in over HTTP; returns the token and the user. */
export async function loginAs(t: TestApp, email = 'admin@example.com', password = 'correct-horse-1') {
  const existing = await t.services.useradm.findUserByEmail(email)
  const user = existing ? { id: existing.id } : await t.services.useradm.createUser('', { email, password })
  const res = await t.call('POST', '/api/management/v1/useradm/auth/login', {
    headers: { authorization: `Basic ${btoa(`${email}:${password}`)}` },
  })
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`)
  return { token: res.text, userId: user.id }
}
