#!/usr/bin/env bun
/**
 * The device poll and a rollout burst against a fleet of a million accepted devices.
 *
 *   bun scripts/bench-deployments.ts [--devices 1000000] [--pollers 50000] [--rollout 100000]
 *        [--seconds 10] [--connections 64] [--concurrency 128] [--data-dir DIR] [--keep] [--profile DIR]
 *        [--phased] [--metrics] [--baseline CHECKOUT] [--rounds 3] [--burst-seconds 600]
 *        [--engines sqlite,postgres] [--instances 2]
 *
 * --engines runs everything below once per setup, in the order given, on the same seeded fleet:
 * `sqlite` is bender on the data dir's SQLite file; `postgres` starts a PostgreSQL server of its own
 * (Debian's binaries, tuned for a dedicated host as scripts/seed-postgres.ts documents, its files
 * beside the data dir), copies the seeded SQLite database into it (COPY, indexes built after; the
 * same code as the inventory bench's) and runs bender on it with its default pool size; with
 * --instances N a second PostgreSQL setup runs N bender processes on that database at once, the
 * load generator's connections spread over them (connection i to instance i mod N) and each
 * rollout device's requests on instance i mod N, so the status writes go through all of them. The
 * hello stays one bare Bun.serve. Each later setup deploys an artifact of its own to the rollout
 * group. With more than one setup, a side-by-side table of the figures ends the output.
 *
 * Seeding (skipped when --data-dir already holds a seeded fleet of that size): --devices accepted
 * devices in deviceauth (device and auth set rows) and in inventory (identity, created time), the
 * first --rollout of them in the static group `bench-rollout`, and a token row for them and for the
 * next --pollers devices, signed with the server's Ed25519 key (signing a hundred thousand RS256
 * tokens would take minutes; once cached, a token's algorithm no longer matters).
 *
 * Then bender runs as its own process on that data dir, a bare Bun.serve hello as another, and the
 * load comes from a third over keep-alive connections on loopback. Each poll phase is three rounds
 * of a hello pass (GET on the bare Bun.serve: the yardstick of this machine and load generator)
 * followed by a poll pass; the median ratio is reported. Phases:
 *   - poll, idle fleet: the pollers ask for an update (the Go client's v2 POST, answered with v1
 *     semantics) while no deployment is active: 204. Unmeasured passes first verify their tokens,
 *     record and write their check-ins, and warm the server up;
 *   - poll, during a rollout: the same while a deployment to the rollout group is active (pollers
 *     are not in it): 204 after the selection lookups;
 *   - rollout burst: the rollout group's simulated clients, --concurrency at a time, each asking
 *     for the update (200 and a download link), then reporting downloading, installing and
 *     success; reported as status writes per second and the time until the deployment finished.
 * With --phased, the same again with a second artifact deployed in two phases under a failure gate
 * (that never trips), and the in-process cost of a gate check per status write.
 * With --metrics a second bender runs on the same data dir with metrics on (BENDER_METRICS_TOKEN),
 * and each round of the idle phase polls it too, right after the first: the cost of metrics on
 * the poll, side by side.
 * With --baseline CHECKOUT a second bender runs from another checkout of the project (its own
 * node_modules installed) on the same data dir, polled right after the first in each idle round:
 * old and new code side by side in one run, on a machine both share at that moment.
 * In each idle round the second server is polled right after the first in odd rounds and right
 * before it in even ones, so a drift of the machine's load favours neither. A --metrics run
 * measures the idle phase only and reports the median of the rounds' with ÷ without ratios.
 * --rounds sets how many rounds each poll phase takes (more rounds, steadier medians).
 * Peak RSS is the bender process's high-water mark (VmHWM) after each phase. Every phase stops
 * after --seconds (the burst after all its devices; no device starts after --burst-seconds).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { openDatabase } from '../db/client.ts'
import { runMigrations } from '../db/migrate.ts'
import { createServices, stopServices } from '../src/app.ts'
import { fileFromBytes, writeModuleImage } from '../src/artifact/writer.ts'
import { loadConfig } from '../src/config.ts'
import { buildDeps, closeDeps, type Deps, sqliteOf } from '../src/deps.ts'
import { failureGateReason } from '../src/services/deployments/policy.ts'
import { createRolloutRows } from '../src/services/deployments/store.rollout.ts'
import { buildTexts } from '../src/services/inventory/text.ts'
import type { TestPostgres } from '../test/helpers/postgres.ts'
import { freePort, waitForServer } from './bench-server.ts'
import { copyToPostgres, startBenchPostgres } from './seed-postgres.ts'

const ROOT = resolve(import.meta.dir, '..')
const DEVICE_TYPE = 'bench-device'
const GROUP = 'bench-rollout'
const ARTIFACT = 'bench-app-1'
const ADMIN = { email: 'bench@example.com', password: 'bench-password-1' }
const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next'
/** Longer than deviceauth's check-in flush interval (5 s) plus the time to write 50 000 of them. */
const CHECK_IN_SETTLE_MS = 8000
const POLL_BODY = JSON.stringify({
  device_provides: { artifact_name: 'factory', device_type: DEVICE_TYPE, 'rootfs-image.version': 'factory' },
  update_control_map: true,
})

type PollJob = {
  kind: 'poll'
  /** The servers polled: connection i keeps to bases[i % bases.length], as a load balancer would. */
  bases: string[]
  path: string
  tokensFile?: string
  seconds: number
  connections: number
}
/** Device i's requests all go to bases[i % bases.length]; no device starts after `seconds`. */
type RolloutJob = {
  kind: 'rollout'
  bases: string[]
  tokensFile: string
  concurrency: number
  seconds: number
}
type PollResult = {
  completed: number
  seconds: number
  rps: number
  statuses: Record<string, number>
  p50: number
  p99: number
}
type Round = { hello: PollResult; poll: PollResult; second?: PollResult }
type RolloutResult = {
  devices: number
  /** Devices that started before the time limit (all of them, unless it ran out). */
  started: number
  statusWrites: number
  seconds: number
  startedAt: number
  failures: number
}

/** A duration in seconds, or why there is none (a burst cut by --burst-seconds leaves the deployment unfinished). */
const duration = (s: number) => (Number.isNaN(s) ? 'not finished' : `${s.toFixed(1)} s`)

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

// --- the load process -----------------------------------------------------------------------

async function readTokens(file: string): Promise<string[]> {
  return (await Bun.file(file).text()).split('\n').filter(Boolean)
}

async function runPoll(job: PollJob): Promise<PollResult> {
  const tokens = job.tokensFile ? await readTokens(job.tokensFile) : []
  const statuses: Record<string, number> = {}
  const latencies = new Float64Array(4_000_000)
  let n = 0
  let issued = 0
  const deadline = performance.now() + job.seconds * 1000
  const started = performance.now()
  const loop = async (connection: number) => {
    const base = job.bases[connection % job.bases.length]!
    while (performance.now() < deadline) {
      const token = tokens[issued++ % Math.max(1, tokens.length)]
      const t0 = performance.now()
      const response = token
        ? await fetch(`${base}${job.path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: POLL_BODY,
          })
        : await fetch(`${base}${job.path}`)
      await response.arrayBuffer()
      if (n < latencies.length) latencies[n++] = performance.now() - t0
      statuses[response.status] = (statuses[response.status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: job.connections }, (_, i) => loop(i)))
  const seconds = (performance.now() - started) / 1000
  const completed = Object.values(statuses).reduce((a, b) => a + b, 0)
  const sorted = latencies.subarray(0, n).sort()
  return {
    completed,
    seconds,
    rps: completed / seconds,
    statuses,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  }
}

async function runRollout(job: RolloutJob): Promise<RolloutResult> {
  const tokens = await readTokens(job.tokensFile)
  let next = 0
  let statusWrites = 0
  let failures = 0
  const startedAt = Date.now()
  const started = performance.now()
  const deadline = started + job.seconds * 1000
  const put = async (base: string, token: string, id: string, status: string) => {
    const res = await fetch(`${base}/api/devices/v1/deployments/device/deployments/${id}/status`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: `{"status":"${status}"}\n`,
    })
    await res.arrayBuffer()
    if (res.status === 204) statusWrites++
    else failures++
  }
  const device = async () => {
    while (performance.now() < deadline) {
      const i = next++
      const token = tokens[i]
      if (!token) return
      const base = job.bases[i % job.bases.length]!
      const res = await fetch(`${base}${NEXT_V2}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: POLL_BODY,
      })
      if (res.status !== 200) {
        await res.arrayBuffer()
        failures++
        continue
      }
      const { id } = (await res.json()) as { id: string }
      for (const status of ['downloading', 'installing', 'success']) await put(base, token, id, status)
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, device))
  return {
    devices: tokens.length,
    started: Math.min(next, tokens.length),
    statusWrites,
    seconds: (performance.now() - started) / 1000,
    startedAt,
    failures,
  }
}

async function inChild<T>(job: PollJob | RolloutJob, limitSeconds: number): Promise<T> {
  const child = Bun.spawn([process.execPath, import.meta.path, '--load'], {
    stdin: new Blob([JSON.stringify(job)]),
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const killer = setTimeout(() => child.kill(), limitSeconds * 1000)
  const output = await new Response(child.stdout).text()
  clearTimeout(killer)
  if ((await child.exited) !== 0) throw new Error('the load process failed')
  return JSON.parse(output) as T
}

// --- seeding ----------------------------------------------------------------------------------

/** Device tokens, one a line: the rollout group's devices, and the pollers (the devices after them). */
type TokenFiles = { rollout: string; pollers: string }

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
/** Deterministic UUID-shaped ids, so a re-run over a kept data dir finds the same devices. */
const deviceId = (i: number) => `00000000-0000-4000-8000-${hex(i, 12)}`
const authSetId = (i: number) => `00000000-0000-4000-9000-${hex(i, 12)}`

async function seed(deps: Deps, devices: number, pollers: number, rollout: number, files: TokenFiles) {
  const sqlite = sqliteOf(deps).$client
  sqlite.run('PRAGMA synchronous = OFF')
  const services = createServices(deps)
  const now = Date.now()
  const insertDevice = sqlite.prepare(
    `INSERT INTO deviceauth_devices (id, tenant_id, identity, identity_hash, status, created_ts, updated_ts)
     VALUES (?, '', ?, ?, 'accepted', ?, ?)`,
  )
  const insertAuthSet = sqlite.prepare(
    `INSERT INTO deviceauth_auth_sets (id, tenant_id, device_id, pubkey, status, created_ts)
     VALUES (?, '', ?, ?, 'accepted', ?)`,
  )
  const started = performance.now()
  const batch = 10_000
  for (let from = 0; from < devices; from += batch) {
    sqlite.transaction(() => {
      for (let i = from; i < Math.min(devices, from + batch); i++) {
        const identity = `{"mac":"02:00:${hex(i, 8).replace(/(..)(?=.)/g, '$1:')}"}`
        insertDevice.run(deviceId(i), identity, Bun.SHA256.hash(identity, 'hex'), now, now)
        insertAuthSet.run(authSetId(i), deviceId(i), `bench-key-${i}`, now)
        // Its SQLite write runs before the call returns, inside this seeding transaction.
        void services.inventory.upsertIdentity('', deviceId(i), JSON.parse(identity), 'accepted')
      }
    })()
    if ((from / batch) % 10 === 0) {
      const rate = (from + batch) / ((performance.now() - started) / 1000)
      console.error(`  seeded ${Math.min(devices, from + batch)} devices (${rate.toFixed(0)}/s)`)
    }
  }
  // A metrics-only run seeds no rollout group.
  if (rollout > 0)
    await services.inventory.assignGroup(
      '',
      GROUP,
      Array.from({ length: rollout }, (_, i) => deviceId(i)),
    )
  // The free-text index in one pass, rather than 2000 devices a second in the measured server.
  buildTexts(sqliteOf(deps), 0)
  const exp = Math.floor(now / 1000) + 365 * 24 * 3600
  const insertToken = sqlite.prepare(
    `INSERT OR REPLACE INTO deviceauth_tokens (id, tenant_id, device_id, expires_ts, created_ts) VALUES (?, '', ?, ?, ?)`,
  )
  const lines: string[] = []
  for (let i = 0; i < rollout + pollers; i++) {
    lines.push(
      await deps.tokens.sign({
        jti: authSetId(i),
        sub: deviceId(i),
        iss: 'Mender',
        exp,
        iat: Math.floor(now / 1000),
        'mender.device': true,
      }),
    )
    insertToken.run(authSetId(i), deviceId(i), exp * 1000, now)
  }
  await Bun.write(files.rollout, `${lines.slice(0, rollout).join('\n')}\n`)
  await Bun.write(files.pollers, `${lines.slice(rollout).join('\n')}\n`)
  await stopServices(services)
  sqlite.run('PRAGMA synchronous = NORMAL')
  sqlite.run('PRAGMA wal_checkpoint(TRUNCATE)')
  console.error(`  seeded in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

// --- the run ----------------------------------------------------------------------------------

function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match ? Number(match[1]) * 1024 : 0
}

/** One way of running bender for a pass: an engine, and how many instances share it. */
type Setup = { engine: 'sqlite' | 'postgres'; instances: number }
const setupName = ({ engine, instances }: Setup) =>
  engine === 'sqlite' ? 'SQLite' : `PostgreSQL, ${instances} instance${instances > 1 ? 's' : ''}`

/** What the side-by-side table shows of a setup. */
type Summary = {
  idle: number
  idleRps: number
  during: number
  writesPerSecond: number
  finishedAfter: number
  rssIdle: number
}

async function main() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '1000000' },
      pollers: { type: 'string', default: '50000' },
      rollout: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      concurrency: { type: 'string', default: '128' },
      'data-dir': { type: 'string' },
      keep: { type: 'boolean', default: false },
      phased: { type: 'boolean', default: false },
      profile: { type: 'string' },
      metrics: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      /** Poll passes per phase, each against its own hello pass; the median ratio is reported. */
      rounds: { type: 'string', default: '3' },
      /** sqlite, postgres, or both (comma-separated), run in that order on the same fleet. */
      engines: { type: 'string', default: 'sqlite' },
      /** On PostgreSQL: the instances of the second setup (the first has one). */
      instances: { type: 'string', default: '1' },
      /** No rollout client starts after this many seconds of the burst. */
      'burst-seconds': { type: 'string', default: '600' },
    },
  })
  const devices = Number(values.devices)
  const pollers = Number(values.pollers)
  const rollout = Number(values.rollout)
  const seconds = Number(values.seconds)
  const rounds = Number(values.rounds)
  const burstSeconds = Number(values['burst-seconds'])
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer')
  const connections = Number(values.connections)
  const concurrency = Number(values.concurrency)
  if (rollout + pollers > devices) throw new Error('--rollout + --pollers must not exceed --devices')
  const instances = Number(values.instances)
  if (!Number.isInteger(instances) || instances < 1) throw new Error('--instances must be a positive integer')
  const engines = values.engines.split(',')
  const setups: Setup[] = []
  for (const engine of engines) {
    if (engine === 'sqlite') setups.push({ engine, instances: 1 })
    else if (engine === 'postgres') {
      setups.push({ engine, instances: 1 })
      if (instances > 1) setups.push({ engine, instances })
    } else throw new Error(`unknown engine ${engine}`)
  }
  if (instances > 1 && !engines.includes('postgres'))
    throw new Error('--instances needs --engines postgres (instances share a PostgreSQL database)')
  if ((values.metrics || values.baseline) && setups.length > 1)
    throw new Error('--metrics and --baseline measure one setup')
  if (values.metrics && values.baseline)
    throw new Error('--metrics and --baseline each need the second server')
  const dataDir = values['data-dir']
    ? resolve(values['data-dir'])
    : mkdtempSync(join(tmpdir(), 'bender-bench-'))
  const keyFile = join(dataDir, 'bench-jwt.pem')
  const files: TokenFiles = {
    rollout: join(dataDir, 'bench-rollout-tokens.txt'),
    pollers: join(dataDir, 'bench-poller-tokens.txt'),
  }
  const marker = join(dataDir, `bench-seeded-${devices}-${rollout}-${pollers}`)

  if (!existsSync(keyFile)) {
    const { generateKeyPairSync } = await import('node:crypto')
    await Bun.write(
      keyFile,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    )
  }
  const env = {
    BENDER_DATA_DIR: dataDir,
    BENDER_JWT_KEY: keyFile,
    BENDER_LOG_LEVEL: 'warn',
    BENDER_ADMIN_EMAIL: ADMIN.email,
    BENDER_ADMIN_PASSWORD: ADMIN.password,
  }
  if (!existsSync(marker)) {
    console.error(`seeding ${devices} devices into ${dataDir}`)
    const seedStarted = performance.now()
    const deps = await buildDeps(loadConfig(env))
    await seed(deps, devices, pollers, rollout, files)
    await closeDeps(deps)
    await Bun.write(marker, '')
    console.error(`SQLite seeded in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s`)
  }

  // PostgreSQL: a server of this run's own, the seeded SQLite database copied into it.
  let postgres: TestPostgres | undefined
  let databaseUrl: string | undefined
  const { BENDER_DATABASE_URL: _url, BENDER_DATABASE_POOL_SIZE: _pool, ...inherited } = process.env
  const summaries: [string, Summary][] = []
  try {
    if (engines.includes('postgres')) {
      postgres = await startBenchPostgres(dataDir)
      databaseUrl = await postgres.createDatabase()
      console.error(`copying ${dataDir} into PostgreSQL`)
      await copyToPostgres(join(dataDir, 'bender.db'), databaseUrl)
    }
    for (const [i, setup] of setups.entries()) {
      const engineEnv = setup.engine === 'postgres' ? { BENDER_DATABASE_URL: databaseUrl! } : {}
      // The first setup deploys the artifact of earlier versions of this bench; each later one its own.
      const artifact = i === 0 ? ARTIFACT : `${ARTIFACT}-${setup.engine}-${setup.instances}`
      const summary = await runSetup(setup, artifact, { ...inherited, ...env, ...engineEnv })
      if (summary) summaries.push([setupName(setup), summary])
    }
  } finally {
    postgres?.stop()
    if (!values.keep && !values['data-dir']) rmSync(dataDir, { recursive: true, force: true })
  }
  if (summaries.length > 1) {
    const cell = (text: string) => text.padStart(24)
    const row = (label: string, of: (s: Summary) => string) =>
      console.log(`${label.padEnd(44)}${summaries.map(([, s]) => cell(of(s))).join('')}`)
    console.log(`\nside by side (${devices} devices; ratios are medians of ${rounds} rounds):`)
    console.log(`${''.padEnd(44)}${summaries.map(([name]) => cell(name)).join('')}`)
    row('poll, no active deployment (x hello)', (s) => `${s.idle.toFixed(3)} (${s.idleRps.toFixed(0)}/s)`)
    row('poll, during the rollout (x hello)', (s) => s.during.toFixed(3))
    row(`rollout to ${rollout}: status writes/s`, (s) => s.writesPerSecond.toFixed(0))
    row('rollout: finished after', (s) => duration(s.finishedAfter))
    row('peak RSS after the polls (each instance)', (s) => `${(s.rssIdle / 1024 / 1024).toFixed(0)} MB`)
  }

  /** Starts the setup's servers, measures them, stops them; answers the figures of the table. */
  async function runSetup(
    setup: Setup,
    artifact: string,
    serverEnv: Record<string, string | undefined>,
  ): Promise<Summary | undefined> {
    // --profile DIR: bender writes a CPU profile (and its markdown summary) there when it stops.
    const profile = values.profile
      ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${resolve(values.profile)}`]
      : []
    const startServer = async (extraEnv: Record<string, string> = {}, root = ROOT) => {
      const apiPort = await freePort()
      const storagePort = await freePort()
      const url = `http://127.0.0.1:${apiPort}`
      const proc = Bun.spawn([process.execPath, ...profile, 'run', join(root, 'src/main.ts'), 'serve'], {
        cwd: root,
        env: {
          ...serverEnv,
          BENDER_API_PORT: String(apiPort),
          BENDER_STORAGE_PORT: String(storagePort),
          BENDER_PUBLIC_URL: url,
          BENDER_STORAGE_PUBLIC_URL: `http://127.0.0.1:${storagePort}`,
          ...extraEnv,
        },
        stdout: 'inherit',
        stderr: 'inherit',
      })
      return { proc, url }
    }
    const servers = [await startServer()]
    const { proc: server, url: base } = servers[0]!
    // The second server of --metrics or --baseline.
    let second: Awaited<ReturnType<typeof startServer>> | undefined
    const helloPort = await freePort()
    const helloUrl = `http://127.0.0.1:${helloPort}`
    const hello = Bun.spawn(
      [
        process.execPath,
        '-e',
        `Bun.serve({ port: ${helloPort}, hostname: '127.0.0.1', fetch: () => new Response('hello') })`,
      ],
      { stdout: 'inherit', stderr: 'inherit' },
    )
    try {
      await waitForServer(base, server)
      // The other instances, started once the first is up (it has made the admin user by then).
      while (servers.length < setup.instances) {
        const other = await startServer()
        await waitForServer(other.url, other.proc)
        servers.push(other)
      }
      const bases = servers.map((s) => s.url)
      if (values.metrics) {
        second = await startServer({ BENDER_METRICS_TOKEN: `bench-${crypto.randomUUID()}` })
        await waitForServer(second.url, second.proc)
      }
      if (values.baseline) {
        second = await startServer({}, resolve(values.baseline))
        await waitForServer(second.url, second.proc)
      }
      const login = await fetch(`${base}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`${ADMIN.email}:${ADMIN.password}`)}` },
      })
      const admin = await login.text()
      const api = (
        method: string,
        path: string,
        body?: string | FormData,
        headers: Record<string, string> = {},
      ) =>
        fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...headers }, body })

      // A kept data dir may hold deployments a stopped run left active: the idle polls need none.
      for (const status of ['pending', 'inprogress']) {
        const left = (await (
          await api('GET', `/api/management/v1/deployments/deployments?status=${status}&per_page=500`)
        ).json()) as { id: string }[]
        for (const { id } of left) {
          await api(
            'PUT',
            `/api/management/v1/deployments/deployments/${id}/status`,
            JSON.stringify({ status: 'aborted' }),
            {
              'content-type': 'application/json',
            },
          )
        }
      }

      /** One poll pass: on the hello, on another server, or (no url) spread over the setup's servers. */
      const pollOnce = (url?: string, limit = seconds) =>
        inChild<PollResult>(
          url === helloUrl
            ? { kind: 'poll', bases: [helloUrl], path: '/', seconds: limit, connections }
            : {
                kind: 'poll',
                bases: url ? [url] : bases,
                path: NEXT_V2,
                tokensFile: files.pollers,
                seconds: limit,
                connections,
              },
          limit + 60,
        )

      /**
       * Polls against the hello in rounds, each poll pass right after its own hello pass: this box is
       * shared, and a burst of someone else's work skews one pass, not the median of the rounds.
       */
      const measure = async (secondUrl?: string): Promise<Round[]> => {
        const done: Round[] = []
        for (let i = 0; i < rounds; i++) {
          const helloPass = await pollOnce(helloUrl)
          // With a second server, every other round polls it first.
          const secondFirst = secondUrl && i % 2 === 1 ? await pollOnce(secondUrl) : undefined
          const poll = await pollOnce()
          const secondPass = secondFirst ?? (secondUrl ? await pollOnce(secondUrl) : undefined)
          done.push({ hello: helloPass, poll, ...(secondPass ? { second: secondPass } : {}) })
        }
        return done.sort((a, b) => a.poll.rps / a.hello.rps - b.poll.rps / b.hello.rps)
      }
      // Unmeasured passes first, for a fleet's steady state: every poller's token verified once (then
      // cached, by each instance) and its check-in recorded and written (flushed every 5 s; each
      // device then checks in at most once a minute), and the server's code warmed up.
      await pollOnce(undefined, Math.min(seconds, 5))
      if (second) await pollOnce(second.url, Math.min(seconds, 5))
      await Bun.sleep(CHECK_IN_SETTLE_MS)
      await pollOnce()
      if (second) await pollOnce(second.url)
      const idle = await measure(second?.url)
      // The rest runs on the setup's servers alone.
      second?.proc.kill('SIGTERM')
      await second?.proc.exited
      const rssIdle = servers.map((s) => peakRss(s.proc.pid))

      const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`
      const pass = (r: PollResult) =>
        `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (${JSON.stringify(r.statuses)})`
      const median = (rounds: Round[]) => rounds[Math.floor(rounds.length / 2)]!
      const report = (name: string, rounds: Round[]) => {
        const mid = median(rounds)
        console.log(
          `${name}: ${(mid.poll.rps / mid.hello.rps).toFixed(3)} x hello (median of ${rounds.length} rounds)`,
        )
        for (const round of rounds) {
          console.log(
            `  poll ${pass(round.poll)}   hello ${pass(round.hello)}   ratio ${(round.poll.rps / round.hello.rps).toFixed(3)}`,
          )
          if (round.second) {
            const label = values.baseline ? 'baseline' : 'with metrics'
            console.log(
              `  ${label} ${pass(round.second)}   ratio ${(round.second.rps / round.hello.rps).toFixed(3)}, ${(round.second.rps / round.poll.rps).toFixed(3)} x this checkout`,
            )
          }
        }
      }
      const where =
        setup.engine === 'sqlite'
          ? 'SQLite'
          : `PostgreSQL, ${servers.length} instance${servers.length > 1 ? 's' : ''} (pool ${loadConfig(serverEnv).databasePoolSize} each), connections spread over them`
      console.log(
        `\n== ${setupName(setup)} ==\ndeployments bench: ${devices} accepted devices, ${pollers} polling (cached tokens), ${connections} keep-alive connections, ${seconds} s passes, loopback; ${where}`,
      )
      report('poll, no active deployment', idle)
      console.log(`peak RSS of bender after the polls: ${rssIdle.map(mb).join(', ')}`)
      if (values.metrics) {
        const ratios = idle.map((r) => r.second!.rps / r.poll.rps).sort((a, b) => a - b)
        console.log(
          `poll rate with metrics ÷ without: ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)} (median of ${ratios.length} rounds: ${ratios.map((r) => r.toFixed(3)).join(' ')})`,
        )
        return undefined
      }

      // The rollout artifact, made here and uploaded through the API.
      /** Uploads an artifact, deploys it to the rollout group, measures the polls and the burst. */
      const rolloutPass = async (artifactName: string, extra: () => Record<string, unknown>) => {
        const artifactPath = join(dataDir, `${artifactName}.mender`)
        await writeModuleImage(
          {
            name: artifactName,
            deviceTypes: [DEVICE_TYPE],
            type: 'single-file',
            files: [fileFromBytes('app.bin', new Uint8Array(8192))],
          },
          artifactPath,
        )
        const form = new FormData()
        form.append('artifact', Bun.file(artifactPath), `${artifactName}.mender`)
        const uploaded = await api('POST', '/api/management/v1/deployments/artifacts', form)
        if (uploaded.status !== 201 && uploaded.status !== 409)
          throw new Error(`upload failed: ${uploaded.status}`)
        const createdAt = performance.now()
        const made = await api(
          'POST',
          `/api/management/v1/deployments/deployments/group/${GROUP}`,
          JSON.stringify({ name: `bench ${Date.now()}`, artifact_name: artifactName, ...extra() }),
          { 'content-type': 'application/json' },
        )
        const createSeconds = (performance.now() - createdAt) / 1000
        if (made.status !== 201)
          throw new Error(`deployment not created: ${made.status} ${await made.text()}`)
        const deploymentId = made.headers.get('location')!.split('/').pop()!
        const during = await measure()
        const burst = await inChild<RolloutResult>(
          { kind: 'rollout', bases, tokensFile: files.rollout, concurrency, seconds: burstSeconds },
          burstSeconds + 120,
        )
        const deployment = (await (
          await api('GET', `/api/management/v1/deployments/deployments/${deploymentId}`)
        ).json()) as {
          status: string
          finished?: string
          statistics: { status: Record<string, number> }
        }
        return { createSeconds, during, burst, deployment }
      }

      const plain = await rolloutPass(artifact, () => ({}))
      // The same rollout in two phases (the second opening a second later, long before the burst)
      // with a failure gate that never trips: every status write moves its phase's gate counters.
      const phased = values.phased
        ? await rolloutPass(`${artifact}-phased`, () => ({
            phases: [{ batch_size: 50 }, { start_ts: new Date(Date.now() + 2000).toISOString() }],
            policy: { failure_gate: { percent: 10, min_finished: 1000, action: 'pause' } },
          }))
        : undefined
      const rssEnd = servers.map((s) => peakRss(s.proc.pid))

      const finishedAfter = ({ burst, deployment }: Awaited<ReturnType<typeof rolloutPass>>) =>
        deployment.finished ? (Date.parse(deployment.finished) - burst.startedAt) / 1000 : Number.NaN
      const describe = (label: string, pass: Awaited<ReturnType<typeof rolloutPass>>) => {
        const { createSeconds, during, burst, deployment } = pass
        report(`poll, during the ${label} rollout (pollers not in it)`, during)
        console.log(
          `${label} rollout: deployment to ${rollout} devices created in ${createSeconds.toFixed(2)} s; ${burst.devices} clients, ${concurrency} at a time${bases.length > 1 ? `, each device on one of the ${bases.length} instances in turn` : ''}:`,
        )
        const cut =
          burst.started < burst.devices
            ? ` (only ${burst.started} devices began within --burst-seconds ${burstSeconds})`
            : ''
        console.log(
          `  ${burst.statusWrites} status writes in ${burst.seconds.toFixed(1)} s = ${(burst.statusWrites / burst.seconds).toFixed(0)} writes/s (plus ${burst.started} update checks), ${burst.failures} failures${cut}`,
        )
        console.log(
          `  deployment ${deployment.status}, finished after ${duration(finishedAfter(pass))}; success ${deployment.statistics.status.success}`,
        )
      }
      describe('unphased', plain)
      if (phased) {
        describe('phased (2 phases, failure gate)', phased)
        console.log(
          `gate check (phase counters + the failure gate), per status write: ${(await gateCheckMicros()).toFixed(2)} µs`,
        )
      }
      console.log(`peak RSS of bender at the end: ${rssEnd.map(mb).join(', ')}`)
      const mid = median(idle)
      const midDuring = median(plain.during)
      return {
        idle: mid.poll.rps / mid.hello.rps,
        idleRps: mid.poll.rps,
        during: midDuring.poll.rps / midDuring.hello.rps,
        writesPerSecond: plain.burst.statusWrites / plain.burst.seconds,
        finishedAfter: finishedAfter(plain),
        rssIdle: Math.max(...rssIdle),
      }
    } finally {
      for (const s of servers) s.proc.kill('SIGTERM')
      hello.kill()
      second?.proc.kill('SIGTERM')
      await Promise.all([...servers.map((s) => s.proc.exited), hello.exited, second?.proc.exited])
    }
  }
}

/**
 * What a status write of a gated rollout adds, in-process on a fresh database: moving the phase's
 * counters (one UPDATE ... RETURNING) and deciding the failure gate from them, averaged over
 * 100 000 writes in one transaction.
 */
async function gateCheckMicros(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bender-bench-gate-'))
  const db = openDatabase(join(dir, 'gate.db'))
  try {
    await runMigrations(db)
    const rollout = createRolloutRows(db)
    rollout.insertPhases([
      {
        ...{ tenantId: '', deploymentId: 'd', idx: 0, id: 'p', batchSize: null, batchSizeDevices: null },
        ...{ startTs: new Date(), size: 100_000, deviceCount: 0, opened: new Date() },
        ...{ finished: 0, failed: 0, succeeded: 0, held: false },
      },
    ])
    const policy = { failure_gate: { percent: 10, min_finished: 1000 } }
    const n = 100_000
    const started = performance.now()
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const counters = rollout.countResult('', 'd', 0, i % 50 === 0)
        if (counters) failureGateReason(policy, counters)
      }
    })
    return ((performance.now() - started) * 1000) / n
  } finally {
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv.includes('--load')) {
  const job = JSON.parse(await Bun.stdin.text()) as PollJob | RolloutJob
  console.log(JSON.stringify(job.kind === 'poll' ? await runPoll(job) : await runRollout(job)))
} else {
  await main()
}
