import { useState } from 'preact/hooks'
import { call } from '../api.ts'
import type { Deployment, Phase, RolloutPolicy } from '../deployments.ts'
import { count, plural } from '../format.ts'
import { ErrorNote, Field, Progress, Status, Table, Time, useAction } from '../ui.tsx'

/** A deployment's rollout on its page: pause and resume, its phases, its policy and its record. */

const setStatus = (id: string, body: Record<string, unknown>) =>
  call('PUT', `v1/deployments/deployments/${id}/status`, { body })

function PauseControl({ d, onChange }: { d: Deployment; onChange: () => void }) {
  const [reason, setReason] = useState('')
  const action = useAction()
  const run = (body: Record<string, unknown>) =>
    action
      .run(() => setStatus(d.id, body))
      .then((done) => {
        if (!done) return
        setReason('')
        onChange()
      })
  if (d.paused) {
    return (
      <section class="notice paused" aria-label="Paused">
        <p>
          <strong>Paused</strong> <Time value={d.paused_at} />: {d.pause_reason || 'no reason given'}. Devices
          that have not started it wait; devices mid-update finish.
        </p>
        {d.resume_needs_override && (
          <p>Its failure gate paused it: resuming overrides the gate until failures break it again.</p>
        )}
        <button
          type="button"
          class="primary"
          disabled={action.busy}
          onClick={() =>
            run(d.resume_needs_override ? { status: 'resumed', override: true } : { status: 'resumed' })
          }
        >
          {d.resume_needs_override ? 'Override the gate and resume' : 'Resume deployment'}
        </button>
        <ErrorNote error={action.error} />
      </section>
    )
  }
  return (
    <form
      class="row pause-form"
      aria-label="Pause the deployment"
      onSubmit={(event) => {
        event.preventDefault()
        void run({ status: 'paused', ...(reason.trim() ? { reason: reason.trim() } : {}) })
      }}
    >
      <Field label="Reason for pausing (optional)" value={reason} onValue={setReason} maxLength={500} />
      <button type="submit" disabled={action.busy}>
        Pause deployment
      </button>
      <ErrorNote error={action.error} />
    </form>
  )
}

function phaseState(phase: Phase, previousOpened: boolean) {
  if (phase.opened)
    return (
      <>
        <Status value="open" /> since <Time value={phase.opened} />
      </>
    )
  if (new Date(phase.start_ts).getTime() > Date.now())
    return (
      <>
        <Status value="scheduled" /> opens <Time value={phase.start_ts} />
      </>
    )
  return previousOpened ? (
    <>
      <Status value="held" /> waiting for the phase before it
    </>
  ) : (
    <Status value="scheduled" />
  )
}

function Phases({ phases }: { phases: Phase[] }) {
  return (
    <Table label="Phases" headers={['Phase', 'Size', 'Start', 'State', 'Devices started']}>
      {phases.map((phase, i) => (
        <tr key={phase.id}>
          <td>Phase {i + 1}</td>
          <td>
            {phase.batch_size !== undefined
              ? `${phase.batch_size}%`
              : phase.batch_size_devices !== undefined
                ? plural(phase.batch_size_devices, 'device')
                : 'the rest'}{' '}
            <span class="muted small">({plural(phase.device_total, 'device')})</span>
          </td>
          <td>
            <Time value={phase.start_ts} />
          </td>
          <td>{phaseState(phase, i > 0 && Boolean(phases[i - 1]!.opened))}</td>
          <td>
            <div class="progress-cell">
              <Progress
                value={phase.device_count}
                max={phase.device_total}
                label={`Devices of phase ${i + 1} that started`}
              />
              <span class="small">
                {count(phase.device_count)}/{count(phase.device_total)}
              </span>
            </div>
          </td>
        </tr>
      ))}
    </Table>
  )
}

/** The policy in words, e.g. "pause at 20% failed after 10 finished". */
function policyWords(policy: RolloutPolicy | undefined, retries: number | undefined): string[] {
  const words: string[] = []
  if (retries) words.push(`each device may try ${plural(retries + 1, 'time')}`)
  const gate = policy?.failure_gate
  if (gate) {
    const when = [
      gate.percent !== undefined
        ? `${gate.percent}% of finished devices failed${gate.min_finished ? ` (after ${count(gate.min_finished)} finished)` : ''}`
        : '',
      gate.max_failures !== undefined ? `${plural(gate.max_failures, 'failure')} in a phase` : '',
    ].filter(Boolean)
    words.push(`${gate.action === 'abort' ? 'abort' : 'pause'} at ${when.join(' or ')}`)
  }
  if (policy?.success_gate)
    words.push(`a phase opens at ${policy.success_gate.percent}% success of the one before`)
  if (policy?.inflight_timeout)
    words.push(
      `a device in progress for ${count(Math.round(policy.inflight_timeout / 60))} min counts as failed`,
    )
  return words
}

export function RolloutPanel({ d, onChange }: { d: Deployment; onChange: () => void }) {
  const policy = policyWords(d.policy, d.retries)
  const log = d.rollout_log ?? []
  return (
    <div class="stack">
      {d.status !== 'finished' && <PauseControl d={d} onChange={onChange} />}
      {policy.length > 0 && (
        <p class="policy">
          <strong>Rollout policy:</strong> {policy.join('; ')}.
        </p>
      )}
      {d.phases && d.phases.length > 0 && (
        <section aria-label="Rollout phases">
          <h2>Phases</h2>
          <Phases phases={d.phases} />
        </section>
      )}
      {log.length > 0 && (
        <details class="card">
          <summary>Rollout record ({plural(log.length, 'entry', 'entries')})</summary>
          <ol class="rollout-log" aria-label="Rollout record">
            {log.map((entry, i) => (
              <li key={i}>
                <Time value={entry.time} /> <Status value={entry.kind} /> {entry.reason}
              </li>
            ))}
          </ol>
        </details>
      )}
    </div>
  )
}
