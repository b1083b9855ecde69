import { useState } from 'preact/hooks'
import type { RolloutPolicy } from '../deployments.ts'
import { Choice, Field } from '../ui.tsx'

/**
 * The rollout part of the create-deployment form: phases, retries and bender's rollout policy.
 * The form sends what the person typed; the server checks it (sizes adding up, increasing start
 * times, …) and its error is shown beside the form, so the rules live in one place.
 */
type PhaseInput = { size: string; start: string }
type Unit = 'percent' | 'devices'
type GateInput = { on: boolean; percent: string; minFinished: string; maxFailures: string; action: string }

const NO_GATE: GateInput = { on: false, percent: '', minFinished: '', maxFailures: '', action: 'pause' }

/** A typed number, or undefined when the box is empty. */
function numberOf(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text)
}

/** A `datetime-local` value (local time) as the RFC 3339 time the API takes. */
function instantOf(local: string): string | undefined {
  if (!local) return undefined
  const date = new Date(local)
  return Number.isNaN(date.getTime()) ? local : date.toISOString()
}

const defined = <T extends object>(value: T) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>

/** The form state and the request fields it makes. */
export function useRollout() {
  const [phases, setPhases] = useState<PhaseInput[]>([])
  const [unit, setUnit] = useState<Unit>('percent')
  const [retries, setRetries] = useState('')
  const [failure, setFailure] = useState<GateInput>(NO_GATE)
  const [success, setSuccess] = useState('')
  const [timeout, setTimeoutMinutes] = useState('')
  const fields = (): Record<string, unknown> => {
    const sizeKey = unit === 'percent' ? 'batch_size' : 'batch_size_devices'
    const policy: RolloutPolicy = defined({
      failure_gate: failure.on
        ? defined({
            percent: numberOf(failure.percent),
            min_finished: numberOf(failure.minFinished),
            max_failures: numberOf(failure.maxFailures),
            action: failure.action as 'pause' | 'abort',
          })
        : undefined,
      success_gate: success.trim() === '' ? undefined : { percent: Number(success) },
      inflight_timeout: timeout.trim() === '' ? undefined : Math.round(Number(timeout) * 60),
    })
    return defined({
      phases:
        phases.length > 0
          ? phases.map((p) => defined({ [sizeKey]: numberOf(p.size), start_ts: instantOf(p.start) }))
          : undefined,
      retries: numberOf(retries),
      policy: Object.keys(policy).length > 0 ? policy : undefined,
    })
  }
  return {
    fields,
    state: { phases, unit, retries, failure, success, timeout },
    set: { setPhases, setUnit, setRetries, setFailure, setSuccess, setTimeoutMinutes },
  }
}

type Rollout = ReturnType<typeof useRollout>

/** A labelled number box; empty is "not given". */
const NumberBox = (props: {
  label: string
  value: string
  onValue: (value: string) => void
  min?: number
  max?: number
  step?: string
}) => <Field type="number" {...props} />

function PhaseRows({ rollout }: { rollout: Rollout }) {
  const { phases, unit } = rollout.state
  const { setPhases, setUnit } = rollout.set
  const change = (index: number, part: Partial<PhaseInput>) =>
    setPhases(phases.map((p, i) => (i === index ? { ...p, ...part } : p)))
  return (
    <fieldset>
      <legend>Phases</legend>
      {phases.length === 0 && <p class="muted small">One phase: every device may take it at once.</p>}
      {phases.length > 0 && (
        <div class="row">
          <Choice
            label="Phase sizes in"
            value={unit}
            options={[
              { value: 'percent' as Unit, label: '% of the devices' },
              { value: 'devices' as Unit, label: 'devices' },
            ]}
            onValue={setUnit}
          />
          <p class="muted small">
            The first phase without a start opens now; the last without a size takes the rest.
          </p>
        </div>
      )}
      <ol class="phase-rows">
        {phases.map((p, i) => (
          <li key={i} class="row">
            <NumberBox
              label={`Phase ${i + 1} size`}
              value={p.size}
              min={1}
              onValue={(size) => change(i, { size })}
            />
            <label>
              {`Phase ${i + 1} starts`}
              <input
                type="datetime-local"
                value={p.start}
                onInput={(e) => change(i, { start: e.currentTarget.value })}
              />
            </label>
            <button
              type="button"
              aria-label={`Remove phase ${i + 1}`}
              onClick={() => setPhases(phases.filter((_, j) => j !== i))}
            >
              Remove
            </button>
          </li>
        ))}
      </ol>
      <button type="button" onClick={() => setPhases([...phases, { size: '', start: '' }])}>
        Add a phase
      </button>
    </fieldset>
  )
}

function FailureGate({ rollout }: { rollout: Rollout }) {
  const gate = rollout.state.failure
  const set = (part: Partial<GateInput>) => rollout.set.setFailure({ ...gate, ...part })
  return (
    <fieldset>
      <legend>Failure gate</legend>
      <label class="check">
        <input type="checkbox" checked={gate.on} onChange={(e) => set({ on: e.currentTarget.checked })} />{' '}
        Stop the rollout when devices fail
      </label>
      {gate.on && (
        <div class="row">
          <NumberBox
            label="Failed % of finished devices"
            value={gate.percent}
            min={0}
            max={100}
            step="any"
            onValue={(percent) => set({ percent })}
          />
          <NumberBox
            label="Only after this many finished"
            value={gate.minFinished}
            min={1}
            onValue={(minFinished) => set({ minFinished })}
          />
          <NumberBox
            label="Or at this many failures"
            value={gate.maxFailures}
            min={1}
            onValue={(maxFailures) => set({ maxFailures })}
          />
          <Choice
            label="Then"
            value={gate.action}
            options={[
              { value: 'pause', label: 'pause it' },
              { value: 'abort', label: 'abort it' },
            ]}
            onValue={(action) => set({ action })}
          />
        </div>
      )}
    </fieldset>
  )
}

/** Phases, retries and gates; folded away until asked for. */
export function RolloutFields({ rollout }: { rollout: Rollout }) {
  const { retries, success, timeout } = rollout.state
  const { setRetries, setSuccess, setTimeoutMinutes } = rollout.set
  return (
    <details class="rollout-fields">
      <summary>Phases, retries and safety gates</summary>
      <PhaseRows rollout={rollout} />
      <FailureGate rollout={rollout} />
      <div class="row">
        <NumberBox label="Retries per device" value={retries} min={0} max={100} onValue={setRetries} />
        <NumberBox
          label="Open the next phase at success %"
          value={success}
          min={0}
          max={100}
          step="any"
          onValue={setSuccess}
        />
        <NumberBox
          label="Count as failed after (minutes in progress)"
          value={timeout}
          min={1}
          step="any"
          onValue={setTimeoutMinutes}
        />
      </div>
    </details>
  )
}
