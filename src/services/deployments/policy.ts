import { type Static, t } from 'elysia'

/**
 * bender's rollout policy, an additive field of any deployment (Mender's clients never see it).
 * Each gate is evaluated from the counters of the device's phase on each status write.
 */
export const rolloutPolicySchema = t.Object(
  {
    failure_gate: t.Optional(
      t.Object({
        action: t.Optional(
          t.Union([t.Literal('pause'), t.Literal('abort')], { description: 'pause (default) or abort.' }),
        ),
        percent: t.Optional(
          t.Number({
            minimum: 0,
            maximum: 100,
            description: 'Trips when failures reach this % of the devices finished in the phase.',
          }),
        ),
        min_finished: t.Optional(
          t.Integer({
            minimum: 1,
            maximum: 1_000_000,
            description: 'The % rule applies only once this many devices of the phase finished (default 1).',
          }),
        ),
        max_failures: t.Optional(
          t.Integer({
            minimum: 1,
            maximum: 1_000_000,
            description: 'Trips at this many failures in the phase.',
          }),
        ),
      }),
    ),
    success_gate: t.Optional(
      t.Object({
        percent: t.Number({
          minimum: 0,
          maximum: 100,
          description: 'A phase opens only once the one before it has this % of its devices succeeded.',
        }),
      }),
    ),
    inflight_timeout: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: 366 * 24 * 3600,
        description:
          'Seconds a device may stay downloading, installing or rebooting before it counts as failed.',
      }),
    ),
  },
  { additionalProperties: false },
)

export type RolloutPolicy = Static<typeof rolloutPolicySchema>

/** A phase's gate counters. */
export type PhaseCounters = { size: number; finished: number; failed: number; succeeded: number }

/** "1 failure", "2 failures": the reason is read by people in the console. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** Why the failure gate trips for these counters, or undefined when it does not. */
export function failureGateReason(policy: RolloutPolicy | null, phase: PhaseCounters): string | undefined {
  const gate = policy?.failure_gate
  if (!gate || phase.failed === 0) return undefined
  if (gate.max_failures !== undefined && phase.failed >= gate.max_failures) {
    return `failure gate: ${count(phase.failed, 'failure')} reached the limit of ${gate.max_failures}`
  }
  const minimum = gate.min_finished ?? 1
  if (gate.percent !== undefined && phase.finished >= minimum) {
    const share = (phase.failed * 100) / phase.finished
    if (share >= gate.percent) {
      const of = `${phase.failed} of ${count(phase.finished, 'finished device')}`
      return `failure gate: ${of} failed (${Math.round(share)}% >= ${gate.percent}%)`
    }
  }
  return undefined
}

/** Whether the phase before the next one has succeeded enough for the success gate. */
export function successGatePasses(policy: RolloutPolicy | null, previous: PhaseCounters): boolean {
  const gate = policy?.success_gate
  if (!gate) return true
  if (previous.size === 0) return true
  return previous.succeeded * 100 >= gate.percent * previous.size
}

/** Checks the policy's fields together (each alone is checked by its schema). */
export function policyProblems(policy: RolloutPolicy | undefined): string[] {
  const gate = policy?.failure_gate
  if (gate && gate.percent === undefined && gate.max_failures === undefined) {
    return ['policy.failure_gate: give percent or max_failures']
  }
  return []
}
