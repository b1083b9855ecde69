#!/usr/bin/env bun
/**
 * deviceconnect under many idle devices: what holding their websockets costs, and the terminal
 * round trip through the relay.
 *
 *   bun scripts/bench-deviceconnect.ts [--devices 10000] [--hold 70] [--seconds 5] [--round-trips 2000]
 *
 * bender runs as its own process on a temp data dir seeded with --devices accepted devices and
 * their tokens; this process plays the devices (one websocket each, answering shells like
 * mender-connect) and the operator. Phases:
 *   - polls: device update checks (cached token, no deployment) for --seconds with no websocket
 *     open, then again while every device holds its websocket: the ratio says what holding costs
 *     the device hot path;
 *   - memory: bender's RSS before and after the devices connect, per connection;
 *   - idle: bender's CPU while the connections sit idle for --hold seconds (past 60 s, so the
 *     websocket keepalive pings are included);
 *   - terminal: --round-trips keystrokes through a user session to one device and its echo back,
 *     p50/p99, next to the same round trip on a bare Bun websocket echo server in the same run.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Packr } from 'msgpackr'
import { loadConfig } from '../src/config.ts'
import { buildDeps, closeDeps, sqliteOf } from '../src/deps.ts'

const ROOT = resolve(import.meta.dir, '..')
const ADMIN = { email: 'bench@example.com', password: 'bench-password-1' }
const codec = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: 'bigint',
})
type Msg = {
  hdr: { proto: number; typ?: string; sid?: string; props?: Record<string, unknown> }
  body?: Uint8Array
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
const deviceId = (i: number) => `00000000-0000-4000-8000-${hex(i, 12)}`
const authSetId = (i: number) => `00000000-0000-4000-9000-${hex(i, 12)}`

/** Accepted devices written straight into deviceauth's tables, with a token each. */
async function seed(env: Record<string, string>, devices: number): Promise<string[]> {
  const deps = await buildDeps(loadConfig(env))
  const sqlite = sqliteOf(deps).$client
  const now = Date.now()
  const exp = Math.floor(now / 1000) + 24 * 3600
  const insert = sqlite.transaction(() => {
    const device = sqlite.prepare(
      `INSERT INTO deviceauth_devices (id, tenant_id, identity, identity_hash, status, created_ts, updated_ts)
       VALUES (?, '', ?, ?, 'accepted', ?, ?)`,
    )
    const authSet = sqlite.prepare(
      `INSERT INTO deviceauth_auth_sets (id, tenant_id, device_id, pubkey, status, created_ts) VALUES (?, '', ?, ?, 'accepted', ?)`,
    )
    const token = sqlite.prepare(
      `INSERT INTO deviceauth_tokens (id, tenant_id, device_id, expires_ts, created_ts) VALUES (?, '', ?, ?, ?)`,
    )
    for (let i = 0; i < devices; i++) {
      const identity = `{"mac":"02:00:${hex(i, 8).replace(/(..)(?=.)/g, '$1:')}"}`
      device.run(deviceId(i), identity, Bun.SHA256.hash(identity, 'hex'), now, now)
      authSet.run(authSetId(i), deviceId(i), `bench-key-${i}`, now)
      token.run(authSetId(i), deviceId(i), exp * 1000, now)
    }
  })
  insert()
  const tokens: string[] = []
  for (let i = 0; i < devices; i++) {
    const claims = { jti: authSetId(i), sub: deviceId(i), iss: 'Mender', exp, iat: Math.floor(now / 1000) }
    tokens.push(await deps.tokens.sign({ ...claims, 'mender.device': true }))
  }
  await closeDeps(deps)
  return tokens
}

/** Resident memory and CPU seconds (user + system) of a process, from /proc. */
function usage(pid: number) {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return { rss, cpuSeconds: ticks / 100 }
}

/** Device update checks per second for `seconds`, 32 loops over keep-alive connections. */
async function pollLoad(base: string, token: string, seconds: number): Promise<number> {
  const url = `${base}/api/devices/v1/deployments/device/deployments/next?artifact_name=a&device_type=b`
  const headers = { authorization: `Bearer ${token}` }
  let done = 0
  const deadline = performance.now() + seconds * 1000
  const loop = async () => {
    while (performance.now() < deadline) {
      await (await fetch(url, { headers })).arrayBuffer()
      done++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: 32 }, loop))
  return done / ((performance.now() - started) / 1000)
}

/** A device that answers like mender-connect's shell: `new` is accepted, input comes back as output. */
function connectDevice(base: string, token: string): Promise<WebSocket> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/devices/v1/deviceconnect/connect`, {
      headers: { authorization: `Bearer ${token}` },
    } as unknown as string[])
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => done(ws)
    ws.onerror = () => fail(new Error('device websocket failed'))
    ws.onmessage = (event) => {
      const msg = codec.unpack(new Uint8Array(event.data as ArrayBuffer)) as Msg
      if (msg.hdr.proto !== 1 || (msg.hdr.typ !== 'new' && msg.hdr.typ !== 'shell')) return
      ws.send(
        codec.pack({
          hdr: { proto: 1, typ: msg.hdr.typ, sid: msg.hdr.sid, props: { status: 1 } },
          body: msg.body,
        }),
      )
    }
  })
}

/**
 * The poll load runs in a child process, so that the devices' 10 000 client sockets in this
 * process do not slow the load generator itself.
 */
async function pollRate(base: string, token: string, seconds: number): Promise<number> {
  const child = Bun.spawn([process.execPath, import.meta.path, '--polls', base, token, String(seconds)], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const output = await new Response(child.stdout).text()
  if ((await child.exited) !== 0) throw new Error('the poll load failed')
  return Number(output)
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

/** Sends `count` shell messages one after another over `ws`, timing each until its echo arrives. */
async function roundTrips(ws: WebSocket, count: number, frame: (i: number) => Uint8Array | string) {
  const times: number[] = []
  let resolveEcho: (() => void) | undefined
  ws.onmessage = () => resolveEcho?.()
  for (let i = 0; i < count; i++) {
    const echoed = new Promise<void>((r) => {
      resolveEcho = r
    })
    const started = performance.now()
    ws.send(frame(i))
    await echoed
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) }
}

function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url, { headers } as unknown as string[])
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => done(ws)
    ws.onerror = () => fail(new Error(`websocket to ${url} failed`))
  })
}

/** The baseline: a bare Bun websocket server echoing every message. */
async function bareEchoRtt(count: number) {
  const server = Bun.serve({
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('upgrade', { status: 400 })),
    websocket: { message: (ws, data) => void ws.send(data) },
  })
  const ws = await openSocket(`ws://127.0.0.1:${server.port}`)
  const result = await roundTrips(ws, count, () => 'x')
  ws.close()
  server.stop(true)
  return result
}

async function main() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '10000' },
      hold: { type: 'string', default: '70' },
      seconds: { type: 'string', default: '5' },
      'round-trips': { type: 'string', default: '2000' },
    },
  })
  const devices = Number(values.devices)
  const hold = Number(values.hold)
  const seconds = Number(values.seconds)
  const trips = Number(values['round-trips'])
  const dataDir = mkdtempSync(join(tmpdir(), 'bender-bench-connect-'))
  const keyFile = join(dataDir, 'bench-jwt.pem')
  await Bun.write(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const apiPort = probe.port!
  await probe.stop(true)
  const env = {
    BENDER_DATA_DIR: dataDir,
    BENDER_JWT_KEY: keyFile,
    BENDER_LOG_LEVEL: 'warn',
    BENDER_API_PORT: String(apiPort),
    BENDER_STORAGE_PORT: String(apiPort === 65535 ? 65534 : apiPort + 1),
    BENDER_ADMIN_EMAIL: ADMIN.email,
    BENDER_ADMIN_PASSWORD: ADMIN.password,
  }
  console.error(`seeding ${devices} devices`)
  const tokens = await seed(env, devices)
  const base = `http://127.0.0.1:${apiPort}`
  const bender = Bun.spawn([process.execPath, join(ROOT, 'src/main.ts'), 'serve'], {
    env: { ...process.env, ...env },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  try {
    for (let i = 0; ; i++) {
      if (i > 300) throw new Error('bender did not start')
      try {
        if ((await fetch(`${base}/api/internal/v1/deviceconnect/alive`)).status === 204) break
      } catch {}
      await Bun.sleep(100)
    }
    await pollRate(base, tokens[0]!, 3)
    const pollsBefore = await pollRate(base, tokens[0]!, seconds)
    const before = usage(bender.pid)
    const started = performance.now()
    const sockets: WebSocket[] = []
    for (let from = 0; from < devices; from += 500) {
      const batch = tokens.slice(from, from + 500).map((token) => connectDevice(base, token))
      sockets.push(...(await Promise.all(batch)))
    }
    const connectSeconds = (performance.now() - started) / 1000
    await Bun.sleep(2000)
    const connected = usage(bender.pid)
    const pollsHeld = await pollRate(base, tokens[0]!, seconds)
    const idleFrom = usage(bender.pid)
    await Bun.sleep(hold * 1000)
    const idleTo = usage(bender.pid)
    const open = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length

    const login = await fetch(`${base}/api/management/v1/useradm/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${ADMIN.email}:${ADMIN.password}`)}` },
    })
    const user = await openSocket(
      `${base.replace('http', 'ws')}/api/management/v1/deviceconnect/devices/${deviceId(0)}/connect`,
      {
        authorization: `Bearer ${await login.text()}`,
      },
    )
    await roundTrips(user, 1, () => codec.pack({ hdr: { proto: 1, typ: 'new' } }))
    const keystroke = codec.pack({ hdr: { proto: 1, typ: 'shell' }, body: new Uint8Array([0x61]) })
    const relay = await roundTrips(user, trips, () => keystroke)
    user.close()
    const bare = await bareEchoRtt(trips)
    for (const ws of sockets) ws.close()
    // Every close is a disconnect written by the server: let them finish before measuring again.
    await Bun.sleep(10_000)
    const pollsAfter = await pollRate(base, tokens[0]!, seconds)

    const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`
    const ms = (value: number) => `${value.toFixed(3)} ms`
    console.log(
      `devices connected: ${devices} in ${connectSeconds.toFixed(1)} s; still open after ${hold} s idle: ${open}`,
    )
    console.log(
      `bender RSS: ${mib(before.rss)} before, ${mib(connected.rss)} connected -> ${((connected.rss - before.rss) / devices / 1024).toFixed(1)} KiB per connection`,
    )
    console.log(
      `idle CPU with ${devices} connections: ${(((idleTo.cpuSeconds - idleFrom.cpuSeconds) / hold) * 100).toFixed(2)} % of one core over ${hold} s`,
    )
    console.log(
      `device polls/s: ${pollsBefore.toFixed(0)} before the websockets, ${pollsHeld.toFixed(0)} while held (${(pollsHeld / pollsBefore).toFixed(2)}x), ${pollsAfter.toFixed(0)} after they closed`,
    )
    console.log(`terminal round trip through the relay: p50 ${ms(relay.p50)}, p99 ${ms(relay.p99)}`)
    console.log(
      `bare Bun websocket echo:              p50 ${ms(bare.p50)}, p99 ${ms(bare.p99)} (relay/bare p50 ${(relay.p50 / bare.p50).toFixed(1)}x)`,
    )
  } finally {
    bender.kill()
    await bender.exited
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (Bun.argv[2] === '--polls') {
  const [base, token, seconds] = Bun.argv.slice(3) as [string, string, string]
  process.stdout.write(String(await pollLoad(base, token, Number(seconds))))
} else await main()
