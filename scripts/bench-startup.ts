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
 * Reported: the median of --runs starts each, as wall time and (on Linux) as the CPU time the
 * process had used by then, all threads: on a loaded machine the wall time mostly measures waiting
 * for a core, the CPU time what the start itself costs.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
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

/** Seconds of CPU a process's threads have used (Linux's per-thread schedstat), or NaN elsewhere. */
function cpuSeconds(pid: number): number {
  const tasks = `/proc/${pid}/task`
  if (!existsSync(tasks)) return Number.NaN
  let ns = 0
  for (const task of readdirSync(tasks)) {
    try {
      ns += Number(readFileSync(`${tasks}/${task}/schedstat`, 'utf8').split(' ')[0])
    } catch {} // a thread that ended meanwhile
  }
  return ns / 1e9
}

type Start = { wall: number; cpu: number }

/** Starts `cmd`, polls `url` every 2 ms until it answers 2xx; returns the seconds that took (wall, CPU). */
async function timeToFirstAnswer(
  cmd: string[],
  url: string,
  env: Record<string, string> = {},
): Promise<Start> {
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
        if ((await fetch(url)).ok)
          return { wall: (performance.now() - started) / 1000, cpu: cpuSeconds(proc.pid) }
      } catch {}
      await Bun.sleep(2)
    }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
  }
}

async function bare(): Promise<Start> {
  const port = await freePort()
  const script = `Bun.serve({ port: ${port}, hostname: '127.0.0.1', fetch: () => new Response('hello') })`
  return timeToFirstAnswer([process.execPath, '-e', script], `http://127.0.0.1:${port}/`)
}

async function bender(dataDir: string, binary = values.binary): Promise<Start> {
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
  const b: Start[] = []
  const s: Start[] = []
  const old: Start[] = []
  for (let i = 0; i < runs; i++) {
    b.push(await bare())
    if (values.baseline) old.push(await bender(dir(), values.baseline))
    s.push(await bender(dir()))
  }
  const ms = (x: number) => `${(x * 1000).toFixed(0)} ms`
  const bareWall = median(b.map((x) => x.wall))
  const bareCpu = median(b.map((x) => x.cpu))
  const report = (label: string, xs: Start[]) => {
    const wall = xs.map((x) => x.wall)
    const cpu = xs.map((x) => x.cpu)
    const times = `wall ${ms(median(wall))} (${(median(wall) / bareWall).toFixed(2)} x), CPU ${ms(median(cpu))} (${(median(cpu) / bareCpu).toFixed(2)} x)`
    console.log(`  ${label}: ${times}  (wall ${wall.map(ms).join(' ')}; CPU ${cpu.map(ms).join(' ')})`)
  }
  console.log(`${name}:`)
  report('bare Bun.serve', b)
  report('bender', s)
  if (values.baseline) report('baseline', old)
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
