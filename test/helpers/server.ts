import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { stopServices } from '../../src/app.ts'
import { startServer } from '../../src/server.ts'
import { createTestApp } from './app.ts'
import { testEngineEnv } from './database.ts'

export const ROOT = resolve(import.meta.dir, '../..')

/** A port nobody listens on right now (tests run beside other processes: never a fixed port). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => done(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** A data dir's database on the test engine: a restart over the same data dir finds the same database. */
const databases = new Map<string, Promise<Record<string, string>>>()
function engineEnvFor(dataDir: string): Promise<Record<string, string>> {
  const known = databases.get(dataDir)
  if (known) return known
  const env = testEngineEnv()
  databases.set(dataDir, env)
  return env
}

export type RunningServer = {
  url: string
  storageUrl: string
  dataDir: string
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  output: () => string
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number>
}

/**
 * Starts bender as a real process (`command` defaults to running src/main.ts with this Bun) on free
 * ports over a fresh data dir, and waits until it answers.
 */
export async function startBender(
  options: { env?: Record<string, string>; command?: string[]; cwd?: string; dataDir?: string } = {},
): Promise<RunningServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'bender-e2e-'))
  const apiPort = await freePort()
  const storagePort = await freePort()
  const url = `http://127.0.0.1:${apiPort}`
  const storageUrl = `http://127.0.0.1:${storagePort}`
  const proc = Bun.spawn(options.command ?? [process.execPath, 'run', join(ROOT, 'src/main.ts'), 'serve'], {
    cwd: options.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dataDir,
      BENDER_DATA_DIR: dataDir,
      BENDER_API_PORT: String(apiPort),
      BENDER_STORAGE_PORT: String(storagePort),
      BENDER_PUBLIC_URL: url,
      BENDER_STORAGE_PUBLIC_URL: storageUrl,
      BENDER_LOG_LEVEL: 'info',
      ...(await engineEnvFor(dataDir)),
      ...options.env,
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let text = ''
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true })
  }
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)])
  const deadline = Date.now() + 20_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`bender exited early (${proc.exitCode}):\n${text}`)
    try {
      const res = await fetch(`${url}/api/internal/v1/useradm/alive`)
      if (res.status === 204) break
    } catch {}
    if (Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error(`bender did not start:\n${text}`)
    }
    await Bun.sleep(50)
  }
  return {
    url,
    storageUrl,
    dataDir,
    proc,
    output: () => text,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      const code = await proc.exited
      clearTimeout(timer)
      await drained
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
      return code
    },
  }
}

/** Runs a command to completion with a time bound; returns exit code and output. */
export async function run(
  cmd: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/**
 * bender as a real HTTP server inside the test process over a fresh data dir: separate processes
 * (the mender client) reach it over loopback while the test keeps its services and clock at hand.
 */
export async function startTestServer(env: Record<string, string> = {}) {
  for (let attempt = 1; ; attempt++) {
    const apiPort = await freePort()
    const storagePort = await freePort()
    const t = await createTestApp({
      BENDER_API_PORT: String(apiPort),
      BENDER_STORAGE_PORT: String(storagePort),
      BENDER_PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
      BENDER_STORAGE_PUBLIC_URL: `http://127.0.0.1:${storagePort}`,
      ...env,
    })
    try {
      const running = await startServer(t.deps, t.app, () => stopServices(t.services), t.services.artifacts)
      return {
        ...t,
        url: `http://127.0.0.1:${running.api.port}`,
        async stop() {
          await running.stop()
          rmSync(t.dir, { recursive: true, force: true })
        },
      }
    } catch (err) {
      await t.close()
      if (attempt === 5 || (err as { code?: string }).code !== 'EADDRINUSE') throw err
    }
  }
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>

/** Polls `check` until it returns a value, failing after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(200)
  }
}
