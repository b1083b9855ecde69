import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import { type Caller, httpCaller, jwtKeyPem } from './app.ts'
import { createTestPgDatabaseUrl } from './database.ts'
import { type RoundRobin, startRoundRobin } from './round-robin.ts'
import { freePort, type RunningServer, startBender } from './server.ts'

/**
 * Several bender processes as an operator runs them: one PostgreSQL database, one S3 bucket, the
 * same signing keys in every data dir, and a round-robin balancer in front of the API ports and
 * another in front of the storage ports. Links and tokens name the balancers, so a device never
 * learns which instance answered.
 */
export type Instances = {
  /** The API through the balancer (every call goes to the next instance). */
  url: string
  storageUrl: string
  api: RoundRobin
  storage: RoundRobin
  /** Each instance directly, in order. */
  nodes: (RunningServer & Caller)[]
  /** Starts instance `i` again over its data dir (after a stop or a kill). */
  restart(i: number): Promise<void>
  /** The settings every instance shares (database, bucket, keys), for one more process. */
  env: Record<string, string>
  stop(): Promise<void>
}

export async function startInstances(
  count = 2,
  extraEnv: Record<string, string> = {},
  /** Settings of instance `i` alone, given the shared ones (e.g. its own way to the bucket). */
  nodeEnv: (i: number, shared: Record<string, string>) => Record<string, string> = () => ({}),
): Promise<Instances> {
  const s3: FauxqsServer = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
  const shared = mkdtempSync(join(tmpdir(), 'bender-instances-'))
  writeFileSync(join(shared, 'jwt.pem'), jwtKeyPem(), { mode: 0o600 })
  const linkKey = randomBytes(32)
  const ports = await Promise.all(
    Array.from({ length: count }, async () => ({ api: await freePort(), storage: await freePort() })),
  )
  const api = startRoundRobin(ports.map((p) => `http://127.0.0.1:${p.api}`))
  const storage = startRoundRobin(ports.map((p) => `http://127.0.0.1:${p.storage}`))
  const env: Record<string, string> = {
    BENDER_DATABASE_URL: await createTestPgDatabaseUrl(),
    BENDER_JWT_KEY: join(shared, 'jwt.pem'),
    BENDER_STORAGE: 's3',
    BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    BENDER_S3_BUCKET: `bender-instances-${process.pid}-${ports[0]!.api}`,
    BENDER_S3_ACCESS_KEY: 'bender',
    BENDER_S3_SECRET_KEY: 'bender-secret',
    BENDER_PUBLIC_URL: api.url,
    BENDER_STORAGE_PUBLIC_URL: storage.url,
    // Every request comes from loopback: the per-client limit would count the whole test as one client.
    BENDER_CLIENT_RATE_LIMIT: '0',
    ...extraEnv,
  }
  const dataDirs = ports.map((_, i) => {
    const dir = join(shared, `node-${i}`)
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, 'keys', 'links.key'), linkKey, { mode: 0o600 })
    return dir
  })
  const start = async (i: number) => {
    const running = await startBender({
      dataDir: dataDirs[i],
      ports: ports[i],
      env: { ...env, ...nodeEnv(i, env) },
    })
    return Object.assign(running, httpCaller(running.url))
  }
  const nodes: Instances['nodes'] = []
  // One after the other: the first applies the migrations, the others find them applied.
  for (let i = 0; i < count; i++) nodes.push(await start(i))
  return {
    url: api.url,
    storageUrl: storage.url,
    api,
    storage,
    nodes,
    env,
    async restart(i) {
      nodes[i] = await start(i)
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()))
      api.stop()
      storage.stop()
      await s3.stop()
      rmSync(shared, { recursive: true, force: true })
    },
  }
}
