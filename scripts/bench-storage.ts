#!/usr/bin/env bun
/**
 * Storage proxy download speed and memory, measured, never asserted.
 *
 *   bun scripts/bench-storage.ts [--size-mib 2048] [--runs 5] [--s3] [--s3-size-mib 512]
 *
 * Makes one sparse object in a fresh data dir, then starts two servers, each in its own process:
 * a bare Bun.serve answering Bun.file(object) (the ceiling), and the real storage proxy (disk
 * store) serving a signed link to the same object. This process downloads from each in turn,
 * consuming the stream as it comes, and samples the proxy process's RSS while it serves.
 *
 * With --s3 it also runs an S3-compatible server (fauxqs, in this process, objects in memory),
 * stores an object there, and measures a proxy process whose blob store is that bucket.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.ts'
import { buildDeps } from '../src/deps.ts'
import { serveStorage } from '../src/server.ts'

const OBJECT_KEY = 'bench/object'
const MiB = 1024 * 1024

type Ready = { port: number; path: string }

function s3Env(endpoint: string) {
  return {
    BENDER_STORAGE: 's3',
    BENDER_S3_ENDPOINT: endpoint,
    BENDER_S3_BUCKET: 'bender-bench',
    BENDER_S3_ACCESS_KEY: 'bench',
    BENDER_S3_SECRET_KEY: 'bench-secret',
  }
}

/** Child mode: start one server and print where it listens. */
async function serve(kind: string, dataDir: string, s3Endpoint: string | undefined): Promise<void> {
  const env = { BENDER_DATA_DIR: dataDir, BENDER_LOG_LEVEL: 'warn', ...(s3Endpoint ? s3Env(s3Endpoint) : {}) }
  const config = loadConfig(env)
  let ready: Ready
  if (kind === 'raw') {
    const file = join(config.storageDir, OBJECT_KEY)
    const server = Bun.serve({ port: 0, fetch: () => new Response(Bun.file(file)) })
    ready = { port: server.port!, path: '/' }
  } else {
    const deps = await buildDeps(config)
    const server = await serveStorage(deps, 0)
    const url = new URL(deps.links.signDownload(OBJECT_KEY, { ttlSeconds: 86400 }).url)
    ready = { port: server.port, path: url.pathname + url.search }
  }
  console.log(JSON.stringify(ready))
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024
}

async function start(kind: string, dataDir: string, s3Endpoint?: string) {
  const args = ['--serve', kind, '--data', dataDir, ...(s3Endpoint ? ['--s3-endpoint', s3Endpoint] : [])]
  const child = Bun.spawn([process.execPath, import.meta.path, ...args], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const reader = child.stdout.getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`${kind} server exited before it was ready`)
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return { child, ready: JSON.parse(text) as Ready }
}

/** Downloads once, counting bytes as they stream in; samples `pid`'s RSS meanwhile. */
async function download(ready: Ready, pid: number, expected: number) {
  const baseline = rssBytes(pid)
  let peak = baseline
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid))
  }, 20)
  const started = performance.now()
  const res = await fetch(`http://127.0.0.1:${ready.port}${ready.path}`)
  if (res.status !== 200) throw new Error(`download answered ${res.status}`)
  if (res.headers.get('content-length') !== String(expected)) throw new Error('no exact Content-Length')
  let received = 0
  for await (const chunk of res.body!) received += chunk.byteLength
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, rssBytes(pid))
  if (received !== expected) throw new Error(`received ${received} bytes, expected ${expected}`)
  return { mibPerSecond: received / MiB / seconds, rssGrowth: peak - baseline }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!
const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(', ')

async function benchS3(dataDir: string, size: number, runs: number) {
  const { startFauxqs } = await import('fauxqs')
  const s3 = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
  try {
    const endpoint = `http://127.0.0.1:${s3.port}`
    const deps = await buildDeps(
      loadConfig({ BENDER_DATA_DIR: join(dataDir, 's3-loader'), ...s3Env(endpoint) }),
    )
    await deps.blobs.put(OBJECT_KEY, new Blob([new Uint8Array(size)]).stream())
    deps.blobs.close()
    const proxy = await start('proxy', join(dataDir, 's3-proxy'), endpoint)
    try {
      const results = []
      for (let run = 0; run < runs; run++) results.push(await download(proxy.ready, proxy.child.pid, size))
      const speeds = results.map((r) => r.mibPerSecond)
      const rss = Math.max(...results.map((r) => r.rssGrowth))
      console.log(
        `storage proxy (S3):        ${median(speeds).toFixed(0)} MiB/s  (${list(speeds)}; ${size / MiB} MiB)`,
      )
      console.log(`proxy (S3) peak RSS growth: ${(rss / MiB).toFixed(1)} MiB`)
    } finally {
      proxy.child.kill()
    }
  } finally {
    await s3.stop()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      data: { type: 'string' },
      's3-endpoint': { type: 'string' },
      'size-mib': { type: 'string', default: '2048' },
      runs: { type: 'string', default: '5' },
      s3: { type: 'boolean', default: false },
      's3-size-mib': { type: 'string', default: '512' },
    },
  })
  if (values.serve) return serve(values.serve, values.data!, values['s3-endpoint'])

  const size = Number(values['size-mib']) * MiB
  const runs = Number(values.runs)
  const dataDir = mkdtempSync(join(tmpdir(), 'bender-bench-storage-'))
  const servers: Awaited<ReturnType<typeof start>>[] = []
  try {
    const object = join(dataDir, 'artifacts', OBJECT_KEY)
    mkdirSync(join(object, '..'), { recursive: true })
    // Sparse: no disk traffic, so the figures are the servers' own overhead.
    await Bun.write(object, '')
    truncateSync(object, size)
    const raw = await start('raw', dataDir)
    const proxy = await start('proxy', dataDir)
    servers.push(raw, proxy)
    // One untimed download each, so neither side pays for first-touch page faults in the figures.
    await download(raw.ready, raw.child.pid, size)
    await download(proxy.ready, proxy.child.pid, size)
    const rawSpeeds: number[] = []
    const proxySpeeds: number[] = []
    let proxyRss = 0
    for (let run = 0; run < runs; run++) {
      rawSpeeds.push((await download(raw.ready, raw.child.pid, size)).mibPerSecond)
      const viaProxy = await download(proxy.ready, proxy.child.pid, size)
      proxySpeeds.push(viaProxy.mibPerSecond)
      proxyRss = Math.max(proxyRss, viaProxy.rssGrowth)
    }
    const rawMedian = median(rawSpeeds)
    const proxyMedian = median(proxySpeeds)
    console.log(`object: ${size / MiB} MiB sparse file; ${runs} runs each, alternating; medians`)
    console.log(`raw Bun.serve(Bun.file):   ${rawMedian.toFixed(0)} MiB/s  (${list(rawSpeeds)})`)
    console.log(`storage proxy (disk):      ${proxyMedian.toFixed(0)} MiB/s  (${list(proxySpeeds)})`)
    console.log(`proxy / raw:               ${(proxyMedian / rawMedian).toFixed(2)}  (goal >= 0.9)`)
    console.log(`proxy peak RSS growth:     ${(proxyRss / MiB).toFixed(1)} MiB  (goal <= 64)`)
    if (values.s3) await benchS3(dataDir, Number(values['s3-size-mib']) * MiB, runs)
  } finally {
    for (const { child } of servers) child.kill()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
