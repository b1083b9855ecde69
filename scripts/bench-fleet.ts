#!/usr/bin/env bun
/**
 * A fleet at Mender's default intervals, as an open-loop load: requests arrive at a fixed rate
 * whatever the server does, so a stall shows as the latency of everything due during it.
 *
 *   bun scripts/bench-fleet.ts [--devices 100000] [--rates 63,125,250,500,1000] [--seconds 20]
 *        [--data-dir DIR] [--keep] [--profile DIR] [--timeout-ms 5000] [--max-in-flight 4000]
 *        [--baseline DIR] [--warm-gap G] [--mark-text N]
 *
 * Seeding (skipped when --data-dir already holds this many): scripts/seed.ts --tokens, i.e. the
 * inventory of a real fleet (~15 attributes a device) plus deviceauth's rows and a live token row
 * per accepted device. The server signs with an Ed25519 key kept in the data dir; before each step
 * (untimed) this process signs, with the same key, the tokens of the devices the step will use.
 *
 * The mix (scripts/fleet-load.ts): 94 % v2 deployments/next, each from the next of the accepted
 * devices in turn (a device's token comes back only after every other device has polled, as in
 * a fleet larger than any cache); 5.7 % inventory PATCH of 15 attributes from the next devices too;
 * 0.3 % signed auth requests (re-authentication of devices holding real keys); 0.3 % operator
 * device-list pages (inventory, 20 a page). Each rate runs for --seconds; requests still out after
 * --timeout-ms, or beyond --max-in-flight, are errors. Per step: per-kind p50/p99/max, errors,
 * achieved rate, bender's CPU (share of one core) and RSS, this generator's CPU, and the worst
 * seconds (after an unreported warm-up of 5 s at the first rate). At the end: the highest rate
 * that held p99 ≤ 50 ms with no errors, and the devices that rate carries (rate × 86 400 / 51).
 * --baseline DIR (another checkout of bender, e.g. a git worktree of the commit before a change)
 * runs each rate against it and then against this checkout, alternating on the same data dir, and
 * prints both tables: before and after from the same run. --warm-gap G puts the server in a running
 * fleet's state before each step: the step's devices poll once (and those that report in the step
 * send their previous report), then G others (see `warm`). Without it, each timed inventory report
 * is the device's first since seeding: most of its attributes differ from the stored ones.
 * --mark-text N marks N devices' free text for reindexing at the start of each step, as a bulk
 * change leaves it (see `markTexts`).
 * Bounded: steps × --seconds (plus a 5 s warm-up per server start, and the --warm-gap polls and at
 * most 2 minutes of settling per step) plus seeding; loopback only.
 */
import { Database } from 'bun:sqlite'
import { createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startBender } from './bench-server.ts'
import {
  arrivals,
  devicesCarried,
  dueBy,
  highestHolding,
  KINDS,
  type Kind,
  MENDER_MIX,
  mixSequence,
  parseRates,
  summarize,
  worstWindows,
} from './fleet-load.ts'

const ROOT = resolve(import.meta.dir, '..')
const ADMIN = { email: 'fleet-bench@example.com', password: 'fleet-bench-password-1' }
const NEXT_V2 = '/api/devices/v2/deployments/device/deployments/next'
const INVENTORY = '/api/devices/v1/inventory/device/attributes'
const P99_BAR_MS = 50
const POLL_BODY = JSON.stringify({
  device_provides: { artifact_name: 'release-1.0.0', device_type: 'raspberrypi4' },
  update_control_map: true,
})

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100000' },
    rates: { type: 'string', default: '63,125,250,500,1000' },
    seconds: { type: 'string', default: '20' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
    'max-in-flight': { type: 'string', default: '4000' },
    baseline: { type: 'string' },
    'warm-gap': { type: 'string' },
    'mark-text': { type: 'string', default: '0' },
  },
})
const devices = Number(values.devices)
const rates = parseRates(values.rates!)
const seconds = Number(values.seconds)
const timeoutMs = Number(values['timeout-ms'])
const maxInFlight = Number(values['max-in-flight'])
if (!Number.isInteger(devices) || devices < 1) throw new Error('--devices must be a positive integer')
if (!(seconds > 0) || seconds > 600) throw new Error('--seconds must be in (0, 600]')
const markText = Number(values['mark-text'])
if (!(Number.isInteger(markText) && markText >= 0))
  throw new Error('--mark-text must be a whole number of devices')
const warmGap = values['warm-gap'] === undefined ? undefined : Number(values['warm-gap'])
if (warmGap !== undefined && !(Number.isInteger(warmGap) && warmGap >= 0)) {
  throw new Error('--warm-gap must be a whole number of devices')
}

// --- tokens and requests --------------------------------------------------------------------

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url')
const JWT_HEADER = b64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }))

/** A device token as deviceauth issues it, signed with the server's key (so the server verifies it). */
function deviceToken(key: KeyObject, jti: string, deviceId: string, exp: number): string {
  const payload = b64url(
    JSON.stringify({ jti, sub: deviceId, iss: 'Mender', exp, iat: exp - 7 * 86_400, 'mender.device': true }),
  )
  const signature = sign(null, Buffer.from(`${JWT_HEADER}.${payload}`), key)
  return `${JWT_HEADER}.${payload}.${b64url(signature)}`
}

/**
 * A device's inventory report as the Mender client sends it: about fifteen attributes. Report `n`
 * differs from report n − 1 in uptime and free memory only, as a device's reports 8 hours apart do.
 */
function inventoryBody(i: number, n = 1): string {
  const attrs: { name: string; value: unknown }[] = [
    { name: 'device_type', value: 'raspberrypi4' },
    { name: 'artifact_name', value: 'release-1.0.0' },
    { name: 'rootfs-image.version', value: 'release-1.0.0' },
    { name: 'mender_client_version', value: '4.0.6' },
    { name: 'kernel', value: 'Linux version 6.1.21-v8+ #1 SMP PREEMPT' },
    { name: 'hostname', value: `raspberrypi4-${i.toString(36)}` },
    { name: 'mac_eth0', value: `02:00:${(i >>> 16) & 255}:${(i >>> 8) & 255}:${i & 255}:01` },
    { name: 'ipv4_eth0', value: `10.${(i >>> 8) & 255}.${i & 255}.7/16` },
    { name: 'cpu_model', value: 'ARMv8 Processor rev 3 (v8l)' },
    { name: 'mem_total_kB', value: 3884096 },
    { name: 'mem_free_kB', value: 1_000_000 + ((i + 7 * n) % 1000) * 1000 },
    { name: 'network_interfaces', value: ['eth0', 'wlan0'] },
    { name: 'update_modules', value: ['deb', 'directory', 'rootfs-image', 'script', 'single-file'] },
    { name: 'os', value: 'Debian GNU/Linux 12 (bookworm)' },
    { name: 'uptime_s', value: 3600 + (i % 86_400) + n * 28_800 },
  ]
  return JSON.stringify(attrs)
}

type Keyed = { identity: string; privateKey: string; pubkey: string }
type AuthRequest = { body: string; signature: string }

/** Signed auth requests of the devices that hold real keys: a re-authentication repeats the same bytes. */
function authRequests(dataDir: string): AuthRequest[] {
  const keyed = JSON.parse(readFileSync(join(dataDir, 'bench-device-keys.json'), 'utf8')) as Keyed[]
  return keyed.map((device) => {
    const body = `${JSON.stringify({ id_data: device.identity, pubkey: device.pubkey, tenant_token: '' })}\n`
    const signature = sign(null, Buffer.from(body), createPrivateKey(device.privateKey)).toString('base64')
    return { body, signature }
  })
}

// --- the server --------------------------------------------------------------------------------

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
function processUsage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  const rss = Number(fields[21]) * 4096
  return { cpu: ticks / 100, rss }
}

// --- one step --------------------------------------------------------------------------------

type Target = {
  base: string
  dataDir: string
  userToken: string
  key: KeyObject
  /** Accepted devices: [jti, device id], in the order their polls come. */
  fleet: [string, string][]
  auth: AuthRequest[]
  exp: number
}

type StepResult = {
  rate: number
  achieved: number
  kinds: Record<Kind, { count: number; p50: number; p99: number; max: number; errors: number }>
  all: { p50: number; p99: number; max: number }
  errors: number
  errorKinds: Record<string, number>
  benderCpu: number
  benderRss: number
  generatorCpu: number
  worst: { startMs: number; max: number; count: number }[]
}

let cursor = 0
let markedFrom = 0

/**
 * A bulk change's wake (--mark-text N): N devices' free text marked for reindexing, as a group
 * assignment or a mass import of N devices leaves it; the server reindexes them during the step.
 */
function markTexts(dataDir: string, count: number): void {
  const db = new Database(join(dataDir, 'bender.db'))
  db.run('PRAGMA busy_timeout = 5000')
  db.run(
    'INSERT OR IGNORE INTO inventory_text_dirty (seq) SELECT seq FROM inventory_devices ORDER BY seq LIMIT ? OFFSET ?',
    [count, markedFrom],
  )
  markedFrom += count
  db.close()
}

/**
 * A running fleet's state before a step (--warm-gap G): every device the step will reach has polled
 * once with the token it will send, and G other devices have polled since (in a fleet of N polling
 * in turn, N − 1 have); a device that reports its inventory in the step has sent its previous
 * report (so the timed one changes what a fleet's next report changes, not every attribute the
 * seed gave it). Untimed, 64 at a time. Then it waits for bender to go idle (the check-ins and
 * reports written), at most two minutes. `deviceKinds[n]` is what the step's n-th device sends.
 */
async function warm(
  target: Target,
  deviceKinds: readonly Kind[],
  gap: number,
  benderPid: number,
): Promise<void> {
  const total = deviceKinds.length + gap
  let n = 0
  const send = async (path: string, method: string, headers: Record<string, string>, body: string) => {
    const response = await fetch(`${target.base}${path}`, { method, headers, body })
    await response.arrayBuffer()
    if (response.status >= 300) throw new Error(`warm-up ${method} ${path}: HTTP ${response.status}`)
  }
  const worker = async () => {
    while (n < total) {
      const at = n++
      const i = (cursor + at) % target.fleet.length
      const [jti, deviceId] = target.fleet[i]!
      const headers = {
        authorization: `Bearer ${deviceToken(target.key, jti, deviceId, target.exp)}`,
        'content-type': 'application/json',
      }
      await send(NEXT_V2, 'POST', headers, POLL_BODY)
      if (deviceKinds[at] === 'inventory') await send(INVENTORY, 'PATCH', headers, inventoryBody(i, 0))
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  for (let waited = 0; waited < 120; waited++) {
    const before = processUsage(benderPid).cpu
    await Bun.sleep(1000)
    if (processUsage(benderPid).cpu - before < 0.1) break
  }
}

async function runStep(
  target: Target,
  rate: number,
  benderPid: number,
  stepSeconds = seconds,
  reported = true,
): Promise<StepResult> {
  const schedule = arrivals(rate, stepSeconds)
  const nextKind = mixSequence(MENDER_MIX)
  const kinds = Array.from(schedule, nextKind)
  // Tokens for the devices this step reaches, signed before the clock starts.
  const deviceKinds = kinds.filter((k) => k === 'next' || k === 'inventory')
  const deviceCount = deviceKinds.length
  if (warmGap !== undefined && reported) await warm(target, deviceKinds, warmGap, benderPid)
  if (markText > 0 && reported) markTexts(target.dataDir, markText)
  const tokens = new Map<number, string>()
  for (let n = 0; n < deviceCount; n++) {
    const i = (cursor + n) % target.fleet.length
    if (!tokens.has(i))
      tokens.set(i, deviceToken(target.key, target.fleet[i]![0], target.fleet[i]![1], target.exp))
  }
  const latency = new Float64Array(schedule.length).fill(Number.NaN)
  const failed = new Uint8Array(schedule.length)
  const errorKinds: Record<string, number> = {}
  const fail = (i: number, why: string) => {
    failed[i] = 1
    errorKinds[why] = (errorKinds[why] ?? 0) + 1
  }
  let inFlight = 0
  let authTurn = 0
  let listTurn = 0

  const request = (kind: Kind): Promise<Response> => {
    const signal = AbortSignal.timeout(timeoutMs)
    if (kind === 'auth') {
      const auth = target.auth[authTurn++ % target.auth.length]!
      return fetch(`${target.base}/api/devices/v1/authentication/auth_requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-men-signature': auth.signature },
        body: auth.body,
        signal,
      })
    }
    if (kind === 'list') {
      const page = 1 + (listTurn++ % 50)
      return fetch(`${target.base}/api/management/v1/inventory/devices?page=${page}&per_page=20`, {
        headers: { authorization: `Bearer ${target.userToken}` },
        signal,
      })
    }
    const device = cursor++ % target.fleet.length
    const headers = { authorization: `Bearer ${tokens.get(device)}`, 'content-type': 'application/json' }
    if (kind === 'next')
      return fetch(`${target.base}${NEXT_V2}`, { method: 'POST', headers, body: POLL_BODY, signal })
    return fetch(`${target.base}${INVENTORY}`, {
      method: 'PATCH',
      headers,
      body: inventoryBody(device),
      signal,
    })
  }

  const send = (i: number, startedAt: number) => {
    if (inFlight >= maxInFlight) return fail(i, 'over max in flight')
    inFlight++
    request(kinds[i]!)
      .then(async (response) => {
        await response.arrayBuffer()
        latency[i] = performance.now() - startedAt - schedule[i]!
        if (response.status >= 300) fail(i, `HTTP ${response.status}`)
      })
      .catch((err: Error) => fail(i, err.name === 'TimeoutError' ? 'timeout' : err.name))
      .finally(() => inFlight--)
  }

  const before = processUsage(benderPid)
  const ownBefore = process.cpuUsage()
  const startedAt = performance.now()
  let next = 0
  while (next < schedule.length) {
    const due = dueBy(schedule, next, performance.now() - startedAt)
    for (; next < due; next++) send(next, startedAt)
    await Bun.sleep(1)
  }
  const sentIn = (performance.now() - startedAt) / 1000
  while (inFlight > 0) await Bun.sleep(5)
  const after = processUsage(benderPid)
  const own = process.cpuUsage(ownBefore)
  const wall = (performance.now() - startedAt) / 1000

  const byKind = {} as StepResult['kinds']
  for (const kind of KINDS) {
    const ok = latency.filter((v, i) => kinds[i] === kind && !failed[i] && !Number.isNaN(v))
    const errors = kinds.filter((k, i) => k === kind && failed[i]).length
    byKind[kind] = { ...summarize(ok), errors }
  }
  const okAll = latency.filter((v, i) => !failed[i] && !Number.isNaN(v))
  const errors = failed.reduce((sum, f) => sum + f, 0)
  const completed = okAll.length
  const allSummary = summarize(Float64Array.from(okAll))
  const timed = Array.from(latency, (v) => (Number.isNaN(v) ? timeoutMs : v))
  return {
    rate,
    achieved: completed / Math.max(sentIn, stepSeconds),
    kinds: byKind,
    all: allSummary,
    errors,
    errorKinds,
    benderCpu: (after.cpu - before.cpu) / wall,
    benderRss: after.rss,
    generatorCpu: (own.user + own.system) / 1e6 / wall,
    worst: worstWindows(schedule, timed, 1000, 3),
  }
}

// --- the run -----------------------------------------------------------------------------------

function report(label: string, results: StepResult[]) {
  const ms = (v: number) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(1) : v.toFixed(0))
  console.log(
    `\n${label}: ${devices} devices, ${seconds} s a step, open loop, loopback, generator in this process`,
  )
  console.log(
    '| rate | achieved | p50 | p99 | max | errors | next p99 | inventory p99 | auth p99 | list p99 | bender CPU | bender RSS | generator CPU |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of results) {
    const k = r.kinds
    console.log(
      `| ${r.rate} | ${r.achieved.toFixed(0)} | ${ms(r.all.p50)} | ${ms(r.all.p99)} | ${ms(r.all.max)} | ${r.errors} | ${ms(k.next.p99)} | ${ms(k.inventory.p99)} | ${ms(k.auth.p99)} | ${ms(k.list.p99)} | ${(r.benderCpu * 100).toFixed(0)} % | ${(r.benderRss / 2 ** 20).toFixed(0)} MiB | ${(r.generatorCpu * 100).toFixed(0)} % |`,
    )
  }
  for (const r of results) {
    const kinds = KINDS.map(
      (kind) =>
        `${kind} n=${r.kinds[kind].count} p50 ${ms(r.kinds[kind].p50)} p99 ${ms(r.kinds[kind].p99)} max ${ms(r.kinds[kind].max)} err ${r.kinds[kind].errors}`,
    )
    const worst = r.worst.map((w) => `${(w.startMs / 1000).toFixed(0)}s:${ms(w.max)}ms/${w.count}`).join(' ')
    console.log(
      `rate ${r.rate}: ${kinds.join('; ')}; errors ${JSON.stringify(r.errorKinds)}; worst seconds ${worst}`,
    )
  }
  const best = highestHolding(
    results.map((r) => ({ rate: r.rate, p99: r.all.p99, errors: r.errors })),
    P99_BAR_MS,
  )
  console.log(
    best === undefined
      ? `no rate held p99 ≤ ${P99_BAR_MS} ms without errors`
      : `highest rate holding p99 ≤ ${P99_BAR_MS} ms with no errors: ${best} req/s = ${devicesCarried(best)} devices at Mender's defaults (rate × 86 400 / 51)`,
  )
}

type Setup = { dataDir: string; env: Record<string, string>; keyFile: string; fleet: [string, string][] }

/** Runs bender from checkout `root` on the data dir, warms it up, then runs `rates`, one step each. */
async function runServer(setup: Setup, root: string, rates: number[]): Promise<StepResult[]> {
  const { server, base } = await startBender(root, setup.env, values.profile)
  try {
    const login = await fetch(`${base}/api/management/v1/useradm/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${ADMIN.email}:${ADMIN.password}`)}` },
    })
    if (login.status !== 200) throw new Error(`login failed: ${login.status}`)
    const target: Target = {
      base,
      dataDir: setup.dataDir,
      userToken: await login.text(),
      key: createPrivateKey(readFileSync(setup.keyFile)),
      fleet: setup.fleet,
      auth: authRequests(setup.dataDir),
      exp: Math.floor(Date.now() / 1000) + 30 * 86_400,
    }
    // Unreported: the server's code warmed up and its caches past the first requests.
    await runStep(target, rates[0]!, server.pid, Math.min(5, seconds), false)
    const results: StepResult[] = []
    for (const rate of rates) {
      const r = await runStep(target, rate, server.pid)
      results.push(r)
      console.error(
        `  ${root}: ${rate} req/s: p50 ${r.all.p50.toFixed(1)} ms, p99 ${r.all.p99.toFixed(1)} ms, ${r.errors} errors`,
      )
    }
    return results
  } finally {
    server.kill('SIGTERM')
    await server.exited
  }
}

async function main() {
  const dataDir = values['data-dir']
    ? resolve(values['data-dir'])
    : mkdtempSync(join(tmpdir(), 'bender-fleet-'))
  const keyFile = join(dataDir, 'bench-jwt.pem')
  const env = {
    BENDER_DATA_DIR: dataDir,
    BENDER_JWT_KEY: keyFile,
    BENDER_LOG_LEVEL: 'warn',
    BENDER_ADMIN_EMAIL: ADMIN.email,
    BENDER_ADMIN_PASSWORD: ADMIN.password,
    // The whole fleet comes from one loopback address here: the per-client limit would see one
    // client far beyond any real one. Per-device limits stay on (each device sends as a real one).
    BENDER_CLIENT_RATE_LIMIT: '0',
  }
  const marker = join(dataDir, `bench-fleet-seeded-${devices}`)
  try {
    if (!existsSync(keyFile)) {
      await Bun.write(
        keyFile,
        generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
      )
    }
    if (!existsSync(marker)) {
      console.error(`seeding ${devices} devices into ${dataDir}`)
      const seed = Bun.spawn(
        [
          process.execPath,
          join(ROOT, 'scripts/seed.ts'),
          '--data-dir',
          dataDir,
          '--devices',
          String(devices),
          '--tokens',
        ],
        { env: { ...process.env, ...env }, stdout: 'inherit', stderr: 'inherit' },
      )
      if ((await seed.exited) !== 0) throw new Error('seeding failed')
      await Bun.write(marker, '')
    }
    const db = new Database(join(dataDir, 'bender.db'), { readonly: true })
    const fleet = db.query('SELECT id, device_id FROM deviceauth_tokens ORDER BY rowid').values() as [
      string,
      string,
    ][]
    db.close()
    const setup: Setup = { dataDir, env, keyFile, fleet }
    console.error(`${fleet.length} accepted devices; rates ${rates.join(', ')} req/s, ${seconds} s each`)
    const baseline = values.baseline ? resolve(values.baseline) : undefined
    if (!baseline) {
      report('fleet bench', await runServer(setup, ROOT, rates))
      return
    }
    // Same run, same data dir, same machine load: each rate against the baseline, then this checkout.
    const before: StepResult[] = []
    const after: StepResult[] = []
    for (const rate of rates) {
      before.push(...(await runServer(setup, baseline, [rate])))
      after.push(...(await runServer(setup, ROOT, [rate])))
    }
    report(`before (${baseline})`, before)
    report('after (this checkout)', after)
  } finally {
    if (!values.keep && !values['data-dir']) rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
