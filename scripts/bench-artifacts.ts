#!/usr/bin/env bun
/**
 * Artifact upload speed and memory, measured, never asserted.
 *
 *   bun scripts/bench.ts artifacts [--size-mib 1024] [--rss-size-mib 2048] [--runs 3]
 *
 * Makes artifacts with the real mender-artifact (one with an uncompressed payload, one gzip, each
 * --size-mib; one uncompressed of --rss-size-mib), wraps each in the multipart body mender-cli
 * sends, then starts two servers, each in its own process: a bare Bun.serve that writes request
 * bodies to disk unparsed (the ceiling), and bender itself. This process uploads the same bytes to
 * each in turn over loopback HTTP and reports upload + parse / raw write for both artifacts, then
 * the peak RSS growth of the bender process during the large upload.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const MiB = 1024 * 1024
const BOUNDARY = 'bench-boundary-6f1c2a'
const EMAIL = 'bench@example.com'
const PASSWORD = 'bench-password-1'

type Body = { path: string; size: number }

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024
}

function sh(command: string[]): void {
  const result = Bun.spawnSync(command, { stdout: 'ignore', stderr: 'pipe' })
  if (result.exitCode !== 0) throw new Error(`${command.join(' ')}: ${result.stderr.toString()}`)
}

/**
 * A payload that compresses about as well as a root file system (roughly 3:1): text-like runs
 * mixed with random bytes, so gzip has real work to undo.
 */
async function writePayload(path: string, size: number): Promise<void> {
  const words = ['mender', 'artifact', 'update', 'device', 'rootfs', 'kernel', 'module', 'config']
  const block = new Uint8Array(4 * MiB)
  const random = crypto.getRandomValues(new Uint8Array(block.length))
  let text = ''
  while (text.length < block.length / 2) text += `${words[text.length % 7]!} ${text.length % 9973}\n`
  block.set(new TextEncoder().encode(text).subarray(0, block.length / 2))
  block.set(random.subarray(0, block.length / 2), block.length / 2)
  const writer = Bun.file(path).writer()
  for (let written = 0; written < size; written += block.length) {
    crypto.getRandomValues(block.subarray(block.length - 4096))
    writer.write(block.subarray(0, Math.min(block.length, size - written)))
    await writer.flush()
  }
  await writer.end()
}

/** A module-image artifact of about `size` bytes, wrapped in an upload's multipart body. */
async function makeUpload(dir: string, name: string, size: number, compression: string): Promise<Body> {
  const payload = join(dir, `${name}.bin`)
  await writePayload(payload, size)
  const artifact = join(dir, `${name}.mender`)
  sh([
    'mender-artifact',
    'write',
    'module-image',
    '-n',
    name,
    '-t',
    'bench-device',
    '-T',
    'single-file',
    '-f',
    payload,
    '--compression',
    compression,
    '-o',
    artifact,
  ])
  rmSync(payload)
  const artifactSize = Bun.file(artifact).size
  const head =
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="size"\r\n\r\n${artifactSize}\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="artifact"; filename="${name}.mender"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n'
  const path = join(dir, `${name}.body`)
  const writer = Bun.file(path).writer()
  writer.write(head)
  for await (const chunk of Bun.file(artifact).stream()) {
    writer.write(chunk)
    await writer.flush()
  }
  writer.write(`\r\n--${BOUNDARY}--\r\n`)
  await writer.end()
  rmSync(artifact)
  return { path, size: Bun.file(path).size }
}

/** Child mode: a bare server writing each request body to a file, unparsed. */
function serveRaw(dataDir: string): void {
  const server = Bun.serve({
    port: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: 255,
    async fetch(request) {
      const path = join(dataDir, `raw-${crypto.randomUUID()}`)
      const writer = Bun.file(path).writer()
      for await (const chunk of request.body!) {
        writer.write(chunk)
        await writer.flush()
      }
      await writer.end()
      rmSync(path)
      return new Response(null, { status: 201 })
    },
  })
  console.log(JSON.stringify({ port: server.port }))
}

async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

async function startRaw(dataDir: string) {
  const child = Bun.spawn([process.execPath, import.meta.path, '--serve-raw', dataDir], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const reader = child.stdout.getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error('the raw server exited before it was ready')
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  return { child, url: `http://127.0.0.1:${(JSON.parse(text) as { port: number }).port}/` }
}

async function startBender(dataDir: string) {
  const apiPort = await freePort()
  const storagePort = await freePort()
  const child = Bun.spawn([process.execPath, join(import.meta.dir, '../src/main.ts'), 'serve'], {
    env: {
      ...process.env,
      BENDER_DATA_DIR: dataDir,
      BENDER_API_PORT: String(apiPort),
      BENDER_STORAGE_PORT: String(storagePort),
      BENDER_LOG_LEVEL: 'warn',
      BENDER_ADMIN_EMAIL: EMAIL,
      BENDER_ADMIN_PASSWORD: PASSWORD,
    },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const base = `http://127.0.0.1:${apiPort}`
  for (let tries = 0; ; tries++) {
    try {
      const login = await fetch(`${base}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
      })
      if (login.status === 200) return { child, base, token: await login.text() }
    } catch {}
    if (tries > 200) throw new Error('bender did not start')
    await Bun.sleep(50)
  }
}

/** Uploads `body` once, streaming it from disk; samples `pid`'s RSS meanwhile. */
async function upload(url: string, body: Body, pid: number, token?: string) {
  const baseline = rssBytes(pid)
  let peak = baseline
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid))
  }, 20)
  const started = performance.now()
  const res = await fetch(url, {
    method: 'POST',
    body: Bun.file(body.path),
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  })
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, rssBytes(pid))
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`)
  return {
    mibPerSecond: body.size / MiB / seconds,
    rssGrowth: peak - baseline,
    location: res.headers.get('location'),
  }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!
const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(', ')

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'serve-raw': { type: 'string' },
      'size-mib': { type: 'string', default: '1024' },
      'rss-size-mib': { type: 'string', default: '2048' },
      runs: { type: 'string', default: '3' },
    },
  })
  if (values['serve-raw']) return serveRaw(values['serve-raw'])

  const size = Number(values['size-mib']) * MiB
  const runs = Number(values.runs)
  const dir = mkdtempSync(join(tmpdir(), 'bender-bench-artifacts-'))
  const children: { kill(): void }[] = []
  try {
    console.log(`making artifacts with mender-artifact (${size / MiB} MiB payloads) ...`)
    const bodies = {
      uncompressed: await makeUpload(dir, 'bench-none', size, 'none'),
      gzip: await makeUpload(dir, 'bench-gzip', size, 'gzip'),
    }
    const raw = await startRaw(dir)
    const bender = await startBender(join(dir, 'bender'))
    children.push(raw.child, bender.child)
    const artifactsUrl = `${bender.base}/api/management/v1/deployments/artifacts`
    const remove = async (location: string | null) => {
      const res = await fetch(`${bender.base}${location}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${bender.token}` },
      })
      if (res.status !== 204) throw new Error(`delete answered ${res.status}`)
    }
    for (const [kind, body] of Object.entries(bodies)) {
      // One untimed upload each, so neither side pays for first-touch costs in the figures.
      await upload(raw.url, body, raw.child.pid)
      await remove((await upload(artifactsUrl, body, bender.child.pid, bender.token)).location)
      const rawSpeeds: number[] = []
      const benderSpeeds: number[] = []
      for (let run = 0; run < runs; run++) {
        rawSpeeds.push((await upload(raw.url, body, raw.child.pid)).mibPerSecond)
        const result = await upload(artifactsUrl, body, bender.child.pid, bender.token)
        benderSpeeds.push(result.mibPerSecond)
        await remove(result.location)
      }
      const ratio = median(benderSpeeds) / median(rawSpeeds)
      console.log(`${kind} payload (${(body.size / MiB).toFixed(0)} MiB upload, ${runs} runs, medians):`)
      console.log(`  raw write:        ${median(rawSpeeds).toFixed(0)} MiB/s  (${list(rawSpeeds)})`)
      console.log(`  upload + parse:   ${median(benderSpeeds).toFixed(0)} MiB/s  (${list(benderSpeeds)})`)
      console.log(`  upload / raw:     ${ratio.toFixed(2)}  (goal >= 0.7)`)
    }
    rmSync(bodies.uncompressed.path)
    rmSync(bodies.gzip.path)

    const rssSize = Number(values['rss-size-mib']) * MiB
    console.log(`making a ${rssSize / MiB} MiB artifact ...`)
    const big = await makeUpload(dir, 'bench-big', rssSize, 'none')
    const result = await upload(artifactsUrl, big, bender.child.pid, bender.token)
    await remove(result.location)
    console.log(
      `${(big.size / MiB).toFixed(0)} MiB upload: ${result.mibPerSecond.toFixed(0)} MiB/s, bender peak RSS growth ${(result.rssGrowth / MiB).toFixed(1)} MiB  (goal <= 64)`,
    )
  } finally {
    for (const child of children) child.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
