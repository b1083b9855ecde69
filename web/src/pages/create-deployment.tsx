import { useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import type { Release } from '../artifacts.ts'
import { countDevices, type Filter, listGroups } from '../devices.ts'
import { plural } from '../format.ts'
import { href } from '../router.ts'
import { Choice, ErrorNote, Field, TextArea, useAction, useLoad } from '../ui.tsx'
import { RolloutFields, useRollout } from './rollout-form.tsx'

type Target = 'all' | 'group' | 'devices' | 'filter'
type SavedFilter = { id: string; name: string; terms: Filter[] }
const ACCEPTED: Filter = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }

/** Who the deployment is for: all accepted devices, a group, listed ids, or a saved filter (dynamic). */
function useTarget() {
  const [target, setTarget] = useState<Target>('all')
  const [group, setGroup] = useState('')
  const [devices, setDevices] = useState('')
  const [filterId, setFilterId] = useState('')
  const [maxDevices, setMaxDevices] = useState('')
  const groups = useLoad(listGroups, [])
  const filters = useLoad(() => get<SavedFilter[]>('v2/inventory/filters?per_page=100'), [])
  const ids = devices.split(/[\s,]+/).filter(Boolean)
  const terms = filters.data?.find((f) => f.id === filterId)?.terms
  const preview = useLoad(async () => {
    if (target === 'devices') return ids.length
    if (target === 'group') {
      if (!group) return 0
      return countDevices([ACCEPTED, { scope: 'system', attribute: 'group', type: '$eq', value: group }])
    }
    if (target === 'filter') return terms ? countDevices([ACCEPTED, ...terms]) : 0
    return countDevices([ACCEPTED])
  }, [target, group, ids.join(','), filterId, terms?.length])
  /** Creates the deployment with the rest of the form's fields; answers the call's reply. */
  const create = (body: Record<string, unknown>) => {
    if (target === 'group')
      return call('POST', `v1/deployments/deployments/group/${encodeURIComponent(group)}`, { body })
    if (target === 'filter') {
      const max = maxDevices.trim() === '' ? {} : { max_devices: Number(maxDevices) }
      return call('POST', 'v2/deployments/deployments', { body: { ...body, filter_id: filterId, ...max } })
    }
    const who = target === 'all' ? { all_devices: true } : { devices: ids }
    return call('POST', 'v1/deployments/deployments', { body: { ...body, ...who } })
  }
  return {
    state: { target, group, devices, filterId, maxDevices },
    set: { setTarget, setGroup, setDevices, setFilterId, setMaxDevices },
    groups,
    filters,
    preview,
    create,
  }
}

type TargetState = ReturnType<typeof useTarget>

function Radio({ t, value, children }: { t: TargetState; value: Target; children: string }) {
  return (
    <label class="check">
      <input
        type="radio"
        name="target"
        checked={t.state.target === value}
        onChange={() => t.set.setTarget(value)}
      />{' '}
      {children}
    </label>
  )
}

function TargetFields({ t }: { t: TargetState }) {
  const { target, group, devices, filterId, maxDevices } = t.state
  return (
    <fieldset>
      <legend>Devices</legend>
      <Radio t={t} value="all">
        All accepted devices
      </Radio>
      <Radio t={t} value="group">
        A group
      </Radio>
      {target === 'group' && (
        <Choice
          label="Group"
          required
          value={group}
          options={[
            { value: '', label: 'Choose a group' },
            ...(t.groups.data ?? []).map((g) => ({ value: g, label: g })),
          ]}
          onValue={t.set.setGroup}
        />
      )}
      <Radio t={t} value="devices">
        These devices
      </Radio>
      {target === 'devices' && (
        <TextArea
          label="Device ids (separated by spaces, commas or lines)"
          value={devices}
          onValue={t.set.setDevices}
          rows={3}
        />
      )}
      <Radio t={t} value="filter">
        Devices matching a saved filter, now and as they come to match it
      </Radio>
      {target === 'filter' && (
        <div class="row">
          <Choice
            label="Saved filter"
            required
            value={filterId}
            options={[
              { value: '', label: t.filters.data?.length === 0 ? 'No saved filter yet' : 'Choose a filter' },
              ...(t.filters.data ?? []).map((f) => ({ value: f.id, label: f.name })),
            ]}
            onValue={t.set.setFilterId}
          />
          <Field
            type="number"
            label="At most this many devices (optional)"
            value={maxDevices}
            min={1}
            onValue={t.set.setMaxDevices}
          />
        </div>
      )}
    </fieldset>
  )
}

function previewText(t: TargetState): string {
  const n = t.preview.data
  if (n === undefined) return 'Counting devices…'
  if (t.state.target === 'filter')
    return `This deployment reaches ${plural(n, 'device')} now, and every device that comes to match the filter while it runs.`
  return `This deployment reaches ${plural(n, 'device')}.`
}

export function CreateDeployment({
  release: initial,
  onDone,
}: {
  release: string
  onDone: (id: string) => void
}) {
  const [release, setRelease] = useState(initial)
  const [name, setName] = useState(initial)
  const [force, setForce] = useState(false)
  const releases = useLoad(
    () => get<Release[]>('v2/deployments/deployments/releases?per_page=100&sort=modified:desc'),
    [],
  )
  const target = useTarget()
  const rollout = useRollout()
  const action = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    action.run(async () => {
      const body = { name: name.trim() || release, artifact_name: release, force_installation: force }
      const reply = await target.create({ ...body, ...rollout.fields() })
      onDone(reply.headers.get('location')?.split('/').pop() ?? '')
    })
  }
  const nobody = target.preview.data === 0 && target.state.target !== 'filter'
  return (
    <form class="card" onSubmit={submit} aria-label="Create a deployment">
      <h2>Create a deployment</h2>
      <Choice
        label="Release"
        required
        value={release}
        options={[
          { value: '', label: 'Choose a release' },
          ...(releases.data ?? []).map((r) => ({ value: r.name, label: r.name })),
        ]}
        onValue={(value) => {
          setRelease(value)
          setName(name || value)
        }}
      />
      {releases.data?.length === 0 && (
        <p class="muted">
          No releases yet: <a href={href('releases')}>upload an artifact</a> first.
        </p>
      )}
      <Field
        label="Deployment name"
        value={name}
        onValue={setName}
        placeholder={release || 'the release name'}
      />
      <TargetFields t={target} />
      <label class="check">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} /> Install
        even where this release is already installed
      </label>
      <RolloutFields rollout={rollout} />
      <p class="preview" aria-live="polite">
        {previewText(target)}
      </p>
      <ErrorNote
        error={
          action.error ??
          target.preview.error ??
          releases.error ??
          target.groups.error ??
          target.filters.error
        }
      />
      <button type="submit" class="primary" disabled={action.busy || !release || nobody}>
        Create deployment
      </button>
    </form>
  )
}
