#!/usr/bin/env bun
/**
 * Device authentication throughput, next to a bare Bun.serve hello measured in the same run.
 *
 *   bun scripts/bench-deviceauth.ts [--devices 16] [--requests 100000] [--seconds 10] [--connections 32]
 *                                   [--jwt-key rsa|ed25519]
 *
 * The server (bender on a temp data dir, and the hello server) runs in this process; the load comes
 * from a child process over keep-alive connections on loopback, replaying requests prepared
 * beforehand so that the client spends no time signing. Each phase stops after --requests
 * requests or --seconds seconds, whichever comes first. Phases:
 *   - hello: GET on a bare Bun.serve answering "hello";
 *   - auth: accepted devices (RSA 3072 keys, the Mender client's default) re-authenticating:
 *     signature check, token issue and signing per request;
 *   - device request: a device route behind the `device` guard with a cached token
 *     (the internal token check an outside gateway calls), i.e. the per-request auth cost.
 * Signing the token dominates an auth request: about 1 ms of CPU with the default RSA 2048 server
 * key; `--jwt-key ed25519` shows the rate with an Ed25519 server key (BENDER_JWT_KEY).
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createApp, createServices, stopServices } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { buildDeps } from '../src/deps.ts'
import { startServer } from '../src/server.ts'

type Request = { method: string; path: string; headers: Record<string, string>; body?: string }
type LoadJob = { base: string; requests: Request[]; total: number; seconds: number; connections: number }
type LoadResult = { completed: number; seconds: number; rps: number; statuses: Record<string, number> }

/** The child process: replays the job's requests round-robin over `connections` concurrent loops. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const statuses: Record<string, number> = {}
  let issued = 0
  const deadline = performance.now() + job.seconds * 1000
  const started = performance.now()
  const loop = async () => {
    while (issued < job.total && performance.now() < deadline) {
      const request = job.requests[issued++ % job.requests.length]!
      const response = await fetch(`${job.base}${request.path}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        keepalive: true,
      })
      await response.arrayBuffer()
      statuses[response.status] = (statuses[response.status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: job.connections }, loop))
  const seconds = (performance.now() - started) / 1000
  const completed = Object.values(statuses).reduce((a, b) => a + b, 0)
  return { completed, seconds, rps: completed / seconds, statuses }
}

async function loadFromChild(job: LoadJob): Promise<LoadResult> {
  const child = Bun.spawn(['bun', import.meta.path, '--load'], {
    stdin: new Blob([JSON.stringify(job)]),
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const killer = setTimeout(() => child.kill(), (job.seconds + 30) * 1000)
  const output = await new Response(child.stdout).text()
  clearTimeout(killer)
  if ((await child.exited) !== 0) throw new Error('the load process failed')
  return JSON.parse(output) as LoadResult
}

/** Accepted devices with their pre-signed auth requests and a token each. */
async function prepareDevices(services: ReturnType<typeof createServices>, count: number) {
  const devices: { body: string; signature: string; token: string }[] = []
  for (let i = 0; i < count; i++) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 })
    const pubkey = publicKey.export({ type: 'spki', format: 'pem' }) as string
    const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
    const body = `${JSON.stringify({ id_data: JSON.stringify({ mac }), tenant_token: '', pubkey })}\n`
    const signature = sign('sha256', Buffer.from(body), privateKey).toString('base64')
    await services.deviceauth.submitAuthRequest(Buffer.from(body), signature).catch(() => undefined)
    devices.push({ body, signature, token: '' })
  }
  // A page holds at most 500 devices; an accepted device leaves the pending list, so its first page
  // is read again until it is empty.
  for (;;) {
    const { devices: pending } = await services.deviceauth.listDevices(
      '',
      { statuses: ['pending'] },
      { page: 1, perPage: 500 },
    )
    if (pending.length === 0) break
    for (const device of pending) {
      await services.deviceauth.setAuthSetStatus('', device.id, device.auth_sets[0]!.id, 'accepted')
    }
  }
  for (const device of devices) {
    device.token = await services.deviceauth.submitAuthRequest(Buffer.from(device.body), device.signature)
  }
  return devices
}

async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  await probe.stop(true)
  return port
}

async function main() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '16' },
      requests: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      'jwt-key': { type: 'string', default: 'rsa' },
    },
  })
  const total = Number(values.requests)
  const seconds = Number(values.seconds)
  const connections = Number(values.connections)
  const dir = mkdtempSync(join(tmpdir(), 'bender-bench-'))
  const hello = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('hello') })
  const jwtKey = join(dir, 'jwt.pem')
  const serverKey =
    values['jwt-key'] === 'ed25519'
      ? generateKeyPairSync('ed25519').privateKey
      : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  await Bun.write(jwtKey, serverKey.export({ type: 'pkcs8', format: 'pem' }))
  const config = loadConfig({
    BENDER_DATA_DIR: dir,
    BENDER_JWT_KEY: jwtKey,
    BENDER_LOG_LEVEL: 'warn',
    BENDER_API_PORT: String(await freePort()),
    BENDER_STORAGE_PORT: String(await freePort()),
    // Throughput from one load generator, far beyond what the request limits allow one client.
    BENDER_CLIENT_RATE_LIMIT: '0',
    BENDER_DEVICE_RATE_LIMIT: '0',
  })
  const deps = await buildDeps(config)
  const services = createServices(deps)
  const running = await startServer(deps, createApp(deps, services), () => stopServices(services))
  try {
    const devices = await prepareDevices(services, Number(values.devices))
    const base = `http://127.0.0.1:${running.api.port}`
    const job = (url: string, requests: Request[]): LoadJob => ({
      base: url,
      requests,
      total,
      seconds,
      connections,
    })
    const helloResult = await loadFromChild(
      job(`http://127.0.0.1:${hello.port}`, [{ method: 'GET', path: '/', headers: {} }]),
    )
    const auth = await loadFromChild(
      job(
        base,
        devices.map((device) => ({
          method: 'POST',
          path: '/api/devices/v1/authentication/auth_requests',
          headers: { 'content-type': 'application/json', 'x-men-signature': device.signature },
          body: device.body,
        })),
      ),
    )
    const deviceRequest = await loadFromChild(
      job(
        base,
        devices.map((device) => ({
          method: 'POST',
          path: '/api/internal/v1/devauth/tokens/verify',
          headers: { authorization: `Bearer ${device.token}` },
        })),
      ),
    )
    const line = (name: string, result: LoadResult) =>
      `${name.padEnd(34)} ${result.rps.toFixed(0).padStart(7)} req/s  ${(result.rps / helloResult.rps)
        .toFixed(3)
        .padStart(
          6,
        )} x hello  (${result.completed} in ${result.seconds.toFixed(1)} s, statuses ${JSON.stringify(result.statuses)})`
    console.log(
      `device auth bench: ${devices.length} devices, ${connections} keep-alive connections, loopback, ${deps.tokens.alg} server key`,
    )
    console.log(line('bare Bun.serve hello', helloResult))
    console.log(line('auth_requests (RSA 3072, accepted)', auth))
    console.log(line('device request, cached token', deviceRequest))
  } finally {
    await running.stop()
    await hello.stop(true)
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv.includes('--load')) {
  const job = JSON.parse(await Bun.stdin.text()) as LoadJob
  console.log(JSON.stringify(await runLoad(job)))
} else {
  await main()
}
