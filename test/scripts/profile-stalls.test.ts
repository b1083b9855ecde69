import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(tmpdir(), 'profile-stalls-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * A profile as bun's --cpu-prof writes it: a request handler in src/ calling a native `run`, then
 * `idle work` outside src/. Samples 1 ms apart while busy; a gap means the thread was idle.
 */
function writeProfile(): string {
  const nodes = [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
    {
      id: 2,
      callFrame: { functionName: 'handler', url: 'file:///app/src/handler.ts', lineNumber: 9 },
      children: [3],
    },
    { id: 3, callFrame: { functionName: 'run', url: '', lineNumber: -1 } },
    { id: 4, callFrame: { functionName: 'idle work', url: 'file:///app/lib/x.js', lineNumber: 0 } },
  ]
  const samples: number[] = []
  const timeDeltas: number[] = []
  const busy = (node: number, ms: number, gapBeforeMs: number) => {
    for (let i = 0; i < ms; i++) {
      samples.push(node)
      timeDeltas.push((i === 0 ? gapBeforeMs : 1) * 1000)
    }
  }
  busy(3, 60, 1) // a 59 ms stretch in the handler's native call
  busy(4, 10, 100) // 9 ms of other work, after 100 ms idle
  busy(3, 30, 6000) // a 29 ms stretch, 6 s on
  const file = join(dir, 'p.cpuprofile')
  writeFileSync(file, JSON.stringify({ nodes, startTime: 0, endTime: 0, samples, timeDeltas }))
  return file
}

const run = (...args: string[]) =>
  Bun.spawnSync([process.execPath, join(import.meta.dir, '../../scripts/profile-stalls.ts'), ...args])

test('busy stretches past --min-ms are the stalls, tallied by self time and by the nearest src/ frame', () => {
  const file = writeProfile()
  const out = run(file, '--min-ms', '20').stdout.toString()
  expect(out).toContain('2 stretches of 20 ms or more (longest 59 ms, 29 ms)')
  expect(out).toMatch(/100\.0 %\s+88 ms\s+run\n/)
  expect(out).toMatch(/100\.0 %\s+88 ms\s+handler src\/handler\.ts:10/)
  // --from/--to keep a window: only the later stretch.
  const later = run(file, '--min-ms', '20', '--from', '5').stdout.toString()
  expect(later).toContain('1 stretches of 20 ms or more (longest 29 ms)')
  const none = run(file, '--min-ms', '100').stdout.toString()
  expect(none).toContain('0 stretches of 100 ms or more\n')
})

test('a numeric option that is not a number is refused', () => {
  const result = run(writeProfile(), '--gap-ms', 'soon')
  expect(result.exitCode).not.toBe(0)
  expect(result.stderr.toString()).toContain('--gap-ms must be a number of at least 0, not soon')
})
