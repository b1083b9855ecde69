#!/usr/bin/env bun
/**
 * Time from start to the first answer, bender against a bare Bun.serve started the same way in the
 * same run (each bender start right after a bare one, so both see the same load).
 *
 *   bun scripts/bench-startup.ts [--data-dir DIR] [--runs 5] [--binary dist/bender] [--baseline OLD]
 *
 * Three cases: a fresh data dir (first start: keys made, migrations applied), the same dir started
 * again (empty fleet), and --data-dir when given (e.g. 1M devices from scripts/seed.ts; it is only
 * read and its WAL checkpointed, as any start would). bender counts as up at its first answer on
 * /api/internal/v1/useradm/alive, the bare server at its first 200. With --binary the compiled
 * executable is started instead of `bun src/main.ts`. --baseline names another executable (an older
 * build) started in turn with the others, so before and after come from one run on one machine.
 * Reported: the median of --runs starts each.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = resolve(import.meta.dir, '..')
const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    runs: { type: 'string', default: '5' },
    binary: { type: 'string' },
    baseline: { type: 'string' },
  },
})
const runs = Number(values.runs)

async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  await probe.stop(true)
  return port
}

/** Starts `cmd`, polls `url` every 2 ms until it answers 2xx; returns the seconds that took. */
async function timeToFirstAnswer(cmd: string[], url: string, env: Record<string, string> = {}) {
  const started = performance.now()
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: 'ignore',
    stderr: 'pipe',
  })
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`exited early: ${await new Response(proc.stderr).text()}`)
      try {
        if ((await fetch(url)).ok) return (performance.now() - started) / 1000
      } catch {}
      await Bun.sleep(2)
    }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
  }
}

async function bare(): Promise<number> {
  const port = await freePort()
  const script = `Bun.serve({ port: ${port}, hostname: '127.0.0.1', fetch: () => new Response('hello') })`
  return timeToFirstAnswer([process.execPath, '-e', script], `http://127.0.0.1:${port}/`)
}

async function bender(dataDir: string, binary = values.binary): Promise<number> {
  const apiPort = await freePort()
  const storagePort = await freePort()
  const cmd = binary
    ? [resolve(binary), 'serve']
    : [process.execPath, 'run', join(ROOT, 'src/main.ts'), 'serve']
  return timeToFirstAnswer(cmd, `http://127.0.0.1:${apiPort}/api/internal/v1/useradm/alive`, {
    BENDER_DATA_DIR: dataDir,
    BENDER_API_PORT: String(apiPort),
    BENDER_STORAGE_PORT: String(storagePort),
    BENDER_LOG_LEVEL: 'error',
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function measure(name: string, dir: () => string) {
  const b: number[] = []
  const s: number[] = []
  const old: number[] = []
  for (let i = 0; i < runs; i++) {
    b.push(await bare())
    if (values.baseline) old.push(await bender(dir(), values.baseline))
    s.push(await bender(dir()))
  }
  const ms = (x: number) => `${(x * 1000).toFixed(0)} ms`
  const ratio = (xs: number[]) => `${(median(xs) / median(b)).toFixed(2)} x`
  console.log(
    `${name}: bender ${ms(median(s))}, bare Bun.serve ${ms(median(b))}: ${ratio(s)}  (bender ${s.map(ms).join(' ')}; bare ${b.map(ms).join(' ')})`,
  )
  if (values.baseline) console.log(`  baseline ${ms(median(old))}: ${ratio(old)}  (${old.map(ms).join(' ')})`)
}

const work = mkdtempSync(join(tmpdir(), 'bender-bench-startup-'))
try {
  console.log(
    `start-up bench: ${values.binary ? 'compiled binary' : 'bun src/main.ts'}, ${runs} runs each, median`,
  )
  let fresh = 0
  await measure('fresh data dir (first start)', () => join(work, `fresh-${fresh++}`))
  await measure('empty fleet (second start)', () => join(work, 'fresh-0'))
  if (values['data-dir'])
    await measure(`seeded data dir ${values['data-dir']}`, () => resolve(values['data-dir']!))
} finally {
  rmSync(work, { recursive: true, force: true })
}
