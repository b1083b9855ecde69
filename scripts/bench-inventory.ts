#!/usr/bin/env bun
/**
 * Inventory search at fleet size, against a seeded data dir (scripts/seed.ts):
 *
 *   bun scripts/bench-inventory.ts --data-dir ./data [--iterations 40] [--load-seconds 15]
 *        [--engines sqlite,postgres]
 *
 * --engines runs the whole bench once per engine, in the order given, on the same fleet: `postgres`
 * starts a PostgreSQL server of its own (tuned as scripts/seed-postgres.ts documents, its files
 * beside the data dir) and copies the data dir's SQLite database into it before the first run, and
 * bender uses it at its default pool size. A side-by-side table of the figures ends the output.
 *
 * Starts the server in a child process, then from this process measures:
 * - v2 `filters/search` latency (p50/p99) for representative "2 filters + sort" shapes, each run
 *   with varying values, one request at a time;
 * - device inventory PATCH latency, idle and while two clients search back to back;
 * - the server's resident memory.
 *
 * The devices that send PATCHes are preauthorized through the management API and authenticate
 * with signed auth requests, so their tokens are real deviceauth tokens.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createApp, createServices, stopServices } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { buildDeps } from '../src/deps.ts'
import { startServer } from '../src/server.ts'
import type { TestPostgres } from '../test/helpers/postgres.ts'
import { copyToPostgres, startBenchPostgres } from './seed-postgres.ts'

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: './data' },
    port: { type: 'string', default: '18080' },
    iterations: { type: 'string', default: '40' },
    'load-seconds': { type: 'string', default: '15' },
    serve: { type: 'boolean', default: false },
    engines: { type: 'string', default: 'sqlite' },
  },
})
const engines = args.engines.split(',')
for (const engine of engines)
  if (engine !== 'sqlite' && engine !== 'postgres') throw new Error(`unknown engine ${engine}`)
const { BENDER_DATABASE_URL: _url, BENDER_DATABASE_POOL_SIZE: _pool, ...inherited } = process.env
/** The SQLite run's environment; a PostgreSQL run adds BENDER_DATABASE_URL (the pool at its default size). */
const sqliteEnv = {
  ...inherited,
  BENDER_DATA_DIR: args['data-dir'],
  BENDER_API_PORT: args.port,
  BENDER_STORAGE_PORT: String(Number(args.port) + 1),
  BENDER_LOG_LEVEL: 'warn',
  // Devices writing back to back from one load generator: far beyond the per-device limit.
  BENDER_CLIENT_RATE_LIMIT: '0',
  BENDER_DEVICE_RATE_LIMIT: '0',
}

const base = `http://127.0.0.1:${args.port}`

type Figures = {
  shapes: { name: string; p50: number; p99: number }[]
  patchIdle: number
  patchBusy: number
  rss: number
}

async function bench(env: Record<string, string | undefined>): Promise<Figures> {
  const email = 'bench@example.com'
  const password = 'bench-password-1'
  const cli = Bun.spawnSync(
    ['bun', 'src/main.ts', 'user', 'create', '--email', email, '--password', password],
    {
      env,
      stderr: 'pipe',
    },
  )
  if (cli.exitCode !== 0 && !cli.stderr.toString().includes('already exists'))
    throw new Error(cli.stderr.toString())

  const server = Bun.spawn(['bun', import.meta.path, '--serve', ...process.argv.slice(2)], {
    env,
    stdout: 'inherit',
    stderr: 'inherit',
  })
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/api/internal/v1/inventory/alive`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) break
      if (i > 200) throw new Error('server did not start')
      await Bun.sleep(50)
    }
    const login = await fetch(`${base}/api/management/v1/useradm/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${email}:${password}`)}` },
    })
    const userToken = await login.text()
    const devices = await deviceTokens(200, userToken)
    const rss = () => memory(server.pid)
    const iterations = Number(args.iterations)
    const engine = env.BENDER_DATABASE_URL
      ? `PostgreSQL (bender's pool ${loadConfig(env).databasePoolSize})`
      : 'SQLite'
    console.log(
      `${engine}: server up, RSS ${rss().rss} MiB; ${iterations} searches per shape, one at a time\n`,
    )
    const figures: Figures = { shapes: [], patchIdle: 0, patchBusy: 0, rss: 0 }

    const search = async (body: unknown) => {
      const started = performance.now()
      const res = await fetch(`${base}/api/management/v2/inventory/filters/search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`search answered ${res.status}`)
      return { ms: performance.now() - started, total: Number(res.headers.get('x-total-count')) }
    }

    for (const shape of SHAPES) {
      await search(shape.body(0))
      const times: number[] = []
      const totals: number[] = []
      for (let i = 0; i < iterations; i++) {
        const { ms, total } = await search(shape.body(i))
        times.push(ms)
        totals.push(total)
      }
      const matches = `${Math.min(...totals)}-${Math.max(...totals)} matches`
      figures.shapes.push({ name: shape.name, p50: pct(times, 50), p99: pct(times, 99) })
      console.log(
        `${shape.name.padEnd(72)} p50 ${fmt(pct(times, 50))}  p99 ${fmt(pct(times, 99))}  (${matches})`,
      )
    }

    let n = 0
    const patch = async () => {
      const device = devices[n++ % devices.length]!
      const started = performance.now()
      const res = await fetch(`${base}/api/devices/v1/inventory/device/attributes`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${device}`, 'content-type': 'application/json' },
        body: JSON.stringify([
          { name: 'uptime_s', value: Math.floor(Math.random() * 1e6) },
          { name: 'bench_round', value: `round-${n}` },
        ]),
      })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`device PATCH answered ${res.status}`)
      return performance.now() - started
    }
    const patchFor = async (ms: number) => {
      const times: number[] = []
      const until = performance.now() + ms
      while (performance.now() < until) times.push(await patch())
      return times
    }

    const loadMs = Number(args['load-seconds']) * 1000
    const idle = await patchFor(Math.min(5000, loadMs))
    let searching = true
    let searches = 0
    const searchLoad = async (offset: number) => {
      for (let i = offset; searching; i++) {
        await search(SHAPES[i % SHAPES.length]!.body(i))
        searches++
      }
    }
    const load = [searchLoad(0), searchLoad(3)]
    const busy = await patchFor(loadMs)
    searching = false
    await Promise.all(load)
    console.log(
      `\ndevice PATCH idle:                 p50 ${fmt(pct(idle, 50))}  p99 ${fmt(pct(idle, 99))}  (${idle.length} requests)`,
    )
    console.log(
      `device PATCH during search load:   p50 ${fmt(pct(busy, 50))}  p99 ${fmt(pct(busy, 99))}  (${busy.length} requests, ${searches} searches by 2 clients)`,
    )
    const { rss: now, anon, file, peak } = rss()
    console.log(
      `server memory: RSS ${now} MiB (${anon} MiB heap, ${file} MiB mapped database pages), peak ${peak} MiB\n`,
    )
    return { ...figures, patchIdle: pct(idle, 50), patchBusy: pct(busy, 50), rss: now }
  } finally {
    server.kill('SIGTERM')
    await server.exited
  }
}

/** Preauthorizes `count` new devices and authenticates each with a signed auth request. */
async function deviceTokens(count: number, userToken: string): Promise<string[]> {
  const tokens: string[] = []
  for (let i = 0; i < count; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const pubkey = publicKey.export({ type: 'spki', format: 'pem' }) as string
    const identity = {
      mac: `02:be:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:00:01`,
    }
    const pre = await fetch(`${base}/api/management/v2/devauth/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ identity_data: identity, pubkey, force: true }),
    })
    if (pre.status !== 201) throw new Error(`preauthorize: ${pre.status} ${await pre.text()}`)
    const body = `${JSON.stringify({ id_data: JSON.stringify(identity), pubkey })}\n`
    const auth = await fetch(`${base}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-men-signature': sign(null, Buffer.from(body), privateKey).toString('base64'),
      },
      body,
    })
    if (auth.status !== 200) throw new Error(`auth request: ${auth.status} ${await auth.text()}`)
    tokens.push(await auth.text())
  }
  return tokens
}

const DEVICE_TYPES = [
  'raspberrypi4',
  'raspberrypi3',
  'beaglebone-yocto',
  'qemux86-64',
  'imx8mm-evk',
  'jetson-nano',
]
const RELEASES = ['release-1.0.0', 'release-2.3.0', 'release-3.1.1', 'release-4.4.1', 'release-5.5.2']
const GROUPS = ['production', 'staging', 'canary', 'field-eu']
const COUNTRIES = ['NO', 'DE', 'US', 'JP']
const accepted = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }
const f = (scope: string, attribute: string, type: string, value: unknown) => ({
  scope,
  attribute,
  type,
  value,
})
const s = (scope: string, attribute: string, order: 'asc' | 'desc') => ({ scope, attribute, order })

/** Representative "2 filters + sort" searches; `i` varies the values so no two runs are alike. */
const SHAPES: { name: string; body: (i: number) => unknown }[] = [
  {
    name: 'accepted + device_type, sort hostname asc (1/12 match)',
    body: (i) => ({
      filters: [accepted, f('inventory', 'device_type', '$eq', DEVICE_TYPES[i % DEVICE_TYPES.length])],
      sort: [s('inventory', 'hostname', 'asc')],
    }),
  },
  {
    name: 'accepted + mem_total_kB >= N, sort updated_ts desc (~1/2 match)',
    body: (i) => ({
      filters: [accepted, f('inventory', 'mem_total_kB', '$gte', [1917604, 3884096][i % 2])],
      sort: [s('system', 'updated_ts', 'desc')],
    }),
  },
  {
    name: 'device_type + artifact_name, sort mem_total_kB desc (1/360 match)',
    body: (i) => ({
      filters: [
        f('inventory', 'device_type', '$eq', DEVICE_TYPES[i % DEVICE_TYPES.length]),
        f('inventory', 'artifact_name', '$eq', RELEASES[i % RELEASES.length]),
      ],
      sort: [s('inventory', 'mem_total_kB', 'desc')],
    }),
  },
  {
    name: 'group + geo-country, sort check_in_time desc (~1/130 match)',
    body: (i) => ({
      filters: [
        f('system', 'group', '$eq', GROUPS[i % GROUPS.length]),
        f('inventory', 'geo-country', '$eq', COUNTRIES[i % 4]),
      ],
      sort: [s('system', 'check_in_time', 'desc')],
    }),
  },
  {
    name: 'accepted + network_interfaces has wlan0 (array), sort artifact_name asc',
    body: () => ({
      filters: [accepted, f('inventory', 'network_interfaces', '$eq', 'wlan0')],
      sort: [s('inventory', 'artifact_name', 'asc')],
    }),
  },
  {
    name: 'accepted + device_type $in 3 types, sort mem_total_kB asc, page 5',
    body: (i) => ({
      page: 5,
      filters: [accepted, f('inventory', 'device_type', '$in', DEVICE_TYPES.slice(i % 3, (i % 3) + 3))],
      sort: [s('inventory', 'mem_total_kB', 'asc')],
    }),
  },
  {
    name: 'free text: a word of one hostname + accepted (1 match)',
    body: (i) => ({ text: ((i * 7919) % 1_000_000).toString(36).padStart(5, '0'), filters: [accepted] }),
  },
  {
    name: 'free text: a device type + group, sort check_in_time desc (1/24)',
    body: (i) => ({
      text: DEVICE_TYPES[i % DEVICE_TYPES.length],
      filters: [f('system', 'group', '$eq', GROUPS[i % GROUPS.length])],
      sort: [s('system', 'check_in_time', 'desc')],
    }),
  },
]

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}
const fmt = (ms: number) => `${ms.toFixed(1).padStart(7)} ms`

/** Resident memory in MiB: all, anonymous (heap), file-backed (the mapped database), and the peak. */
function memory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const mib = (key: string) =>
    Math.round(Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024)
  return { rss: mib('VmRSS'), anon: mib('RssAnon'), file: mib('RssFile'), peak: mib('VmHWM') }
}

async function serve() {
  const deps = await buildDeps(loadConfig(process.env))
  const services = createServices(deps)
  const running = await startServer(deps, createApp(deps, services), () => stopServices(services))
  process.on('SIGTERM', () => running.stop().then(() => process.exit(0)))
}

/** Runs the bench on each engine in turn, then prints their figures side by side. */
async function benchEngines() {
  let postgres: TestPostgres | undefined
  const results: [string, Figures][] = []
  try {
    let url: string | undefined
    if (engines.includes('postgres')) {
      const dataDir = resolve(args['data-dir'])
      postgres = await startBenchPostgres(dataDir)
      url = await postgres.createDatabase()
      console.error(`copying ${dataDir} into PostgreSQL`)
      await copyToPostgres(join(dataDir, 'bender.db'), url)
    }
    for (const engine of engines) {
      const env = engine === 'postgres' ? { ...sqliteEnv, BENDER_DATABASE_URL: url } : sqliteEnv
      results.push([engine === 'postgres' ? 'PostgreSQL' : 'SQLite', await bench(env)])
    }
  } finally {
    postgres?.stop()
  }
  if (results.length < 2) return
  const [, first] = results[0]!
  console.log(`p50 side by side:`)
  console.log(`${''.padEnd(72)} ${results.map(([name]) => name.padStart(12)).join(' ')}`)
  const row = (label: string, of: (f: Figures) => number) =>
    console.log(`${label.padEnd(72)} ${results.map(([, f]) => fmt(of(f)).padStart(12)).join(' ')}`)
  for (const [i, shape] of first.shapes.entries()) row(shape.name, (f) => f.shapes[i]!.p50)
  row('device PATCH idle', (f) => f.patchIdle)
  row('device PATCH during search load', (f) => f.patchBusy)
  console.log(
    `${'server RSS after the run (MiB)'.padEnd(72)} ${results.map(([, f]) => String(f.rss).padStart(12)).join(' ')}`,
  )
}

if (args.serve) await serve()
else await benchEngines()
