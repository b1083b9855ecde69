import { BadRequestError } from '../../gateway/errors.ts'

/** One phase as Mender Enterprise's clients send it. */
export type PhaseInput = { batch_size?: number; batch_size_devices?: number; start_ts?: string }
/** Mender Enterprise's `uniform_phases`: a batch of the same size every `time_interval`. */
export type UniformPhasesInput = {
  start_ts?: string
  time_interval: string
  batch_size?: number
  batch_size_devices?: number
}

/** A phase as planned at creation: its request, its opening time and how many devices it has. */
export type PhasePlan = {
  batchSize: number | null
  batchSizeDevices: number | null
  start: Date
  size: number
}

/** More phases than this is a mistake (a uniform interval far too small for the fleet). */
export const MAX_PHASES = 1000

const invalid = (what: string) => new BadRequestError(`Invalid phases: ${what}`)

function parseTime(value: string, field: string): Date {
  const ms = Date.parse(value)
  if (!/^\d{4}-\d{2}-\d{2}T/i.test(value) || Number.isNaN(ms)) throw invalid(`${field}: not an RFC 3339 time`)
  return new Date(ms)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** A Go duration (`90s`, `2h`, `1h30m`) or a number of seconds, in milliseconds. */
export function parseDuration(value: string): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw invalid(`uniform_phases.time_interval: "${value}" is not a duration such as 30m or 2h`)
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0)
}

/** Devices a phase of this size takes of `total`: a percentage rounds down, a count is itself. */
function sizeOf(
  phase: { batch_size?: number; batch_size_devices?: number },
  total: number,
): number | undefined {
  if (phase.batch_size !== undefined) return Math.floor((total * phase.batch_size) / 100)
  return phase.batch_size_devices
}

/** The listed phases, checked as Mender Enterprise documents them (see the README). */
function planListed(phases: PhaseInput[], total: number, now: Date): PhasePlan[] {
  if (phases.length === 0) throw invalid('give at least one phase')
  if (phases.length > MAX_PHASES) throw invalid(`at most ${MAX_PHASES} phases`)
  const percent = phases.some((p) => p.batch_size !== undefined)
  if (percent && phases.some((p) => p.batch_size_devices !== undefined)) {
    throw invalid('batch_size (%) and batch_size_devices cannot be mixed')
  }
  const plans: PhasePlan[] = []
  let assigned = 0
  let sum = 0
  phases.forEach((phase, i) => {
    const last = i === phases.length - 1
    const start =
      phase.start_ts === undefined ? undefined : parseTime(phase.start_ts, `phases[${i}].start_ts`)
    if (!start && i > 0) throw invalid(`phases[${i}].start_ts: only the first phase may omit its start`)
    const at = start ?? now
    const previous = plans[i - 1]
    if (previous && at.getTime() <= previous.start.getTime()) {
      throw invalid(`phases[${i}].start_ts: must be later than the start of phase ${i - 1}`)
    }
    let size = sizeOf(phase, total)
    if (size === undefined && !last) throw invalid(`phases[${i}]: only the last phase may omit its size`)
    sum += phase.batch_size ?? phase.batch_size_devices ?? 0
    // The last phase takes the rest: what rounding down left over included.
    if (last) size = total - assigned
    if (size !== undefined && size < 1) {
      throw invalid(`phases[${i}]: ${describe(phase)} of ${total} devices is no device`)
    }
    assigned += size ?? 0
    plans.push({
      batchSize: phase.batch_size ?? null,
      batchSizeDevices: phase.batch_size_devices ?? null,
      start: at,
      size: size ?? 0,
    })
  })
  if (assigned > total) throw invalid(`the phases take ${assigned} devices, the deployment has ${total}`)
  const lastSized = sizeOf(phases[phases.length - 1]!, total) !== undefined
  if (lastSized && percent && sum !== 100) throw invalid(`the batch sizes add up to ${sum}%, not 100%`)
  if (lastSized && !percent && sum !== total) {
    throw invalid(`the batch sizes add up to ${sum} devices, the deployment has ${total}`)
  }
  return plans
}

function describe(phase: PhaseInput): string {
  return phase.batch_size !== undefined
    ? `batch_size ${phase.batch_size}%`
    : `batch_size_devices ${phase.batch_size_devices}`
}

function planUniform(uniform: UniformPhasesInput, total: number, now: Date): PhasePlan[] {
  if ((uniform.batch_size === undefined) === (uniform.batch_size_devices === undefined)) {
    throw invalid('uniform_phases: give one of batch_size (%) or batch_size_devices')
  }
  const interval = parseDuration(uniform.time_interval)
  if (interval <= 0) throw invalid('uniform_phases.time_interval: must be longer than zero')
  const size = sizeOf(uniform, total) ?? 0
  if (size < 1) throw invalid(`uniform_phases: ${describe(uniform)} of ${total} devices is no device`)
  const count = Math.ceil(total / size)
  if (count > MAX_PHASES) throw invalid(`uniform_phases: ${count} phases, at most ${MAX_PHASES}`)
  const start = uniform.start_ts === undefined ? now : parseTime(uniform.start_ts, 'uniform_phases.start_ts')
  return Array.from({ length: count }, (_, i) => ({
    batchSize: uniform.batch_size ?? null,
    batchSizeDevices: uniform.batch_size_devices ?? null,
    start: new Date(start.getTime() + i * interval),
    size: Math.min(size, total - i * size),
  }))
}

/** The phases of a deployment to `total` devices; 400 with the reason when they cannot be. */
export function planPhases(
  input: { phases?: PhaseInput[]; uniform_phases?: UniformPhasesInput },
  total: number,
  now: Date,
): PhasePlan[] | undefined {
  if (input.phases !== undefined && input.uniform_phases !== undefined) {
    throw invalid('give phases or uniform_phases, not both')
  }
  if (input.phases !== undefined) return planListed(input.phases, total, now)
  if (input.uniform_phases !== undefined) return planUniform(input.uniform_phases, total, now)
  return undefined
}

/**
 * Each device's phase: the devices ordered by a hash of the deployment and device ids (a phase is
 * a spread sample of the fleet, not its oldest devices), then cut by the phases' sizes. Computed
 * once at creation and stored, so a device never changes phase.
 */
export function assignPhases(
  deploymentId: string,
  deviceIds: readonly string[],
  plans: PhasePlan[],
): number[] {
  const order = deviceIds
    .map((id, i) => ({ i, key: Bun.hash(`${deploymentId}\u0000${id}`) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
  const phases = new Array<number>(deviceIds.length).fill(0)
  let phase = 0
  let left = plans[0]?.size ?? deviceIds.length
  for (const { i } of order) {
    while (left === 0 && phase < plans.length - 1) left = plans[++phase]!.size
    phases[i] = phase
    left--
  }
  return phases
}
