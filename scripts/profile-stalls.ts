/**
 * Where the thread answering requests stalled, from a CPU profile (`--profile DIR` of the benches,
 * i.e. bun's `--cpu-prof`):
 *
 *   bun scripts/profile-stalls.ts FILE.cpuprofile [--gap-ms 3] [--min-ms 20] [--top 12]
 *        [--from S] [--to S] [--timeline]
 *
 * The profiler samples the JS thread only while it runs (about every millisecond), so samples closer
 * than --gap-ms apart belong to one busy stretch: the thread did not go back to its event loop
 * between them for longer than that. Stretches of at least --min-ms are stalls. For them it prints
 * how many there were and how long, then the functions they spent their time in: by self time (the
 * frame on top, native calls like SQLite's included) and by the application's own frame nearest
 * the top (what code asked for that work). A stretch of many short requests back to back shows as a
 * stall too; the second list tells them apart from one long piece of work. --from/--to keep the
 * samples between those seconds of the profile (e.g. a bench's timed step, not its warm-up);
 * --timeline prints the busy milliseconds of every 5 seconds first, to find them.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

type CallFrame = { functionName: string; url: string; lineNumber: number }
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] }
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  allowPositionals: true,
  options: {
    'gap-ms': { type: 'string', default: '3' },
    'min-ms': { type: 'string', default: '20' },
    top: { type: 'string', default: '12' },
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: 'Infinity' },
    timeline: { type: 'boolean', default: false },
  },
})
const file = positionals[0]
if (!file) throw new Error('usage: bun scripts/profile-stalls.ts FILE.cpuprofile [--gap-ms 3] [--min-ms 20]')
/** A numeric option, refused unless it is a number of at least 0. */
function numberOption(name: keyof typeof values): number {
  const value = Number(values[name])
  if (!(value >= 0)) throw new Error(`--${name} must be a number of at least 0, not ${values[name]}`)
  return value
}
const gapMs = numberOption('gap-ms')
const minMs = numberOption('min-ms')
const top = numberOption('top')
const fromMs = numberOption('from') * 1000
const toMs = numberOption('to') * 1000

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

const label = (frame: CallFrame) => {
  const where = frame.url
    ? `${frame.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${frame.lineNumber + 1}`
    : ''
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`
}
/** The sampled node's nearest frame in the application's own code (src/), if any. */
function ownFrame(id: number): string | undefined {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)?.callFrame
    if (frame?.url.includes('/src/')) return label(frame)
  }
  return undefined
}

// Busy stretches: runs of samples each within gapMs of the one before.
type Stretch = { start: number; end: number; samples: { id: number; ms: number }[] }
const stretches: Stretch[] = []
const timeline = new Map<number, number>()
let t = 0
let current: Stretch | undefined
for (let i = 0; i < profile.samples.length; i++) {
  const delta = (profile.timeDeltas[i] ?? 0) / 1000
  t += delta
  const id = profile.samples[i] as number
  const slot = Math.floor(t / 5000) * 5
  if (delta <= gapMs) timeline.set(slot, (timeline.get(slot) ?? 0) + delta)
  if (t < fromMs || t > toMs) {
    current = undefined
    continue
  }
  if (current && delta <= gapMs) {
    current.end = t
    current.samples.push({ id, ms: delta })
  } else {
    current = { start: t, end: t, samples: [{ id, ms: 0 }] }
    stretches.push(current)
  }
}
if (values.timeline) {
  console.log('busy ms in each 5 s of the profile:')
  for (const [slot, ms] of timeline) console.log(`  ${String(slot).padStart(5)} s  ${ms.toFixed(0)}`)
}
const busy = stretches.reduce((sum, s) => sum + (s.end - s.start), 0)
const stalls = stretches.filter((s) => s.end - s.start >= minMs)
const lengths = stalls.map((s) => s.end - s.start).sort((a, b) => b - a)
console.log(
  `${(t / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s in busy stretches of the part kept; ` +
    `${stalls.length} stretches of ${minMs} ms or more` +
    (lengths.length > 0
      ? ` (longest ${lengths
          .slice(0, 5)
          .map((ms) => `${ms.toFixed(0)} ms`)
          .join(', ')})`
      : ''),
)

function tally(name: string, key: (id: number) => string | undefined) {
  const totals = new Map<string, number>()
  let all = 0
  for (const stall of stalls) {
    for (const sample of stall.samples) {
      const k = key(sample.id) ?? '(no frame of src/)'
      totals.set(k, (totals.get(k) ?? 0) + sample.ms)
      all += sample.ms
    }
  }
  console.log(`\nin those stretches, by ${name}:`)
  for (const [k, ms] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `  ${((100 * ms) / Math.max(all, 1)).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${k}`,
    )
  }
}
tally('self time', (id) => {
  const frame = byId.get(id)?.callFrame
  return frame ? label(frame) : undefined
})
tally("the application's nearest frame", ownFrame)
