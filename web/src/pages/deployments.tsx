import { useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import type { Release } from '../artifacts.ts'
import { type Deployment, progress } from '../deployments.ts'
import { countDevices, type Filter, listGroups } from '../devices.ts'
import { count, plural } from '../format.ts'
import { isDeploymentEvent, useLive } from '../live.ts'
import { href, navigate, type Route } from '../router.ts'
import {
  Empty,
  ErrorNote,
  Field,
  Loading,
  Pager,
  Progress,
  Status,
  Table,
  Tabs,
  TextArea,
  Time,
  useAction,
  useLoad,
} from '../ui.tsx'
import { RolloutFields, useRollout } from './rollout-form.tsx'

const PER_PAGE = 20
type Target = 'all' | 'group' | 'devices'
const ACCEPTED: Filter = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }

function usePreview(target: Target, group: string, ids: string[]) {
  return useLoad(async () => {
    if (target === 'devices') return ids.length
    if (target === 'group' && !group) return 0
    const filters =
      target === 'group'
        ? [ACCEPTED, { scope: 'system', attribute: 'group', type: '$eq', value: group }]
        : [ACCEPTED]
    return countDevices(filters)
  }, [target, group, ids.join(',')])
}

function CreateDeployment({ release: initial, onDone }: { release: string; onDone: (id: string) => void }) {
  const [release, setRelease] = useState(initial)
  const [name, setName] = useState(initial)
  const [target, setTarget] = useState<Target>('all')
  const [group, setGroup] = useState('')
  const [devices, setDevices] = useState('')
  const [force, setForce] = useState(false)
  const releases = useLoad(
    () => get<Release[]>('v2/deployments/deployments/releases?per_page=100&sort=modified:desc'),
    [],
  )
  const groups = useLoad(listGroups, [])
  const ids = devices.split(/[\s,]+/).filter(Boolean)
  const preview = usePreview(target, group, ids)
  const rollout = useRollout()
  const action = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    action.run(async () => {
      const body = {
        name: name.trim() || release,
        artifact_name: release,
        force_installation: force,
        ...rollout.fields(),
      }
      const reply =
        target === 'group'
          ? await call('POST', `v1/deployments/deployments/group/${encodeURIComponent(group)}`, { body })
          : await call('POST', 'v1/deployments/deployments', {
              body: { ...body, ...(target === 'all' ? { all_devices: true } : { devices: ids }) },
            })
      onDone(reply.headers.get('location')?.split('/').pop() ?? '')
    })
  }
  return (
    <form class="card" onSubmit={submit} aria-label="Create a deployment">
      <h2>Create a deployment</h2>
      <label>
        Release
        <select
          required
          value={release}
          onChange={(e) => {
            setRelease(e.currentTarget.value)
            setName(name || e.currentTarget.value)
          }}
        >
          <option value="">Choose a release</option>
          {releases.data?.map((r) => (
            <option key={r.name} value={r.name}>
              {r.name}
            </option>
          ))}
        </select>
      </label>
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
      <fieldset>
        <legend>Devices</legend>
        <label class="check">
          <input type="radio" name="target" checked={target === 'all'} onChange={() => setTarget('all')} />{' '}
          All accepted devices
        </label>
        <label class="check">
          <input
            type="radio"
            name="target"
            checked={target === 'group'}
            onChange={() => setTarget('group')}
          />{' '}
          A group
        </label>
        {target === 'group' && (
          <label>
            Group
            <select value={group} required onChange={(e) => setGroup(e.currentTarget.value)}>
              <option value="">Choose a group</option>
              {groups.data?.map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
        )}
        <label class="check">
          <input
            type="radio"
            name="target"
            checked={target === 'devices'}
            onChange={() => setTarget('devices')}
          />{' '}
          These devices
        </label>
        {target === 'devices' && (
          <TextArea
            label="Device ids (separated by spaces, commas or lines)"
            value={devices}
            onValue={setDevices}
            rows={3}
          />
        )}
      </fieldset>
      <label class="check">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} /> Install
        even where this release is already installed
      </label>
      <RolloutFields rollout={rollout} />
      <p class="preview" aria-live="polite">
        {preview.data === undefined
          ? 'Counting devices…'
          : `This deployment reaches ${plural(preview.data, 'device')}.`}
      </p>
      <ErrorNote error={action.error ?? preview.error ?? releases.error ?? groups.error} />
      <button type="submit" class="primary" disabled={action.busy || !release || preview.data === 0}>
        Create deployment
      </button>
    </form>
  )
}

type Tab = 'inprogress' | 'scheduled' | 'pending' | 'finished'

export function DeploymentRow({ d }: { d: Deployment }) {
  const p = progress(d)
  return (
    <tr>
      <td>
        <a href={href('deployments', d.id)}>{d.name}</a>
      </td>
      <td>{d.artifact_name}</td>
      <td>
        {d.all_devices
          ? 'all devices'
          : d.groups?.length
            ? `group ${d.groups.join(', ')}`
            : plural(d.max_devices, 'device')}
      </td>
      <td>
        <Status value={d.status} />
        {d.paused && <Status value="paused" />}
      </td>
      <td class="progress-cell">
        <Progress value={p.done} max={p.total} label={`Progress of ${d.name}`} />
        <span class="small">
          {count(p.done)}/{count(p.total)}
          {p.failed ? `, ${count(p.failed)} failed` : ''}
        </span>
      </td>
      <td>
        <Time value={d.created} />
      </td>
    </tr>
  )
}

export function DeploymentTable({ deployments, label }: { deployments: Deployment[]; label: string }) {
  return (
    <Table label={label} headers={['Deployment', 'Release', 'Target', 'Status', 'Progress', 'Created']}>
      {deployments.map((d) => (
        <DeploymentRow key={d.id} d={d} />
      ))}
    </Table>
  )
}

export async function listDeployments(status: Tab, page: number, perPage = PER_PAGE) {
  const reply = await call<Deployment[]>(
    'GET',
    `v1/deployments/deployments?status=${status}&page=${page}&per_page=${perPage}`,
  )
  return { deployments: reply.data, total: Number(reply.headers.get('x-total-count') ?? reply.data.length) }
}

const EMPTY: Record<Tab, string> = {
  inprogress: 'No deployment is running.',
  scheduled: 'No deployment is waiting for its first phase.',
  pending: 'No deployment is waiting for devices.',
  finished: 'No deployment has finished yet.',
}

export function DeploymentsPage({ route }: { route: Route }) {
  const release = route.query.get('new')
  const [tab, setTab] = useState<Tab>('inprogress')
  const [page, setPage] = useState(1)
  const [creating, setCreating] = useState(release !== null)
  const list = useLoad(() => listDeployments(tab, page), [tab, page])
  useLive(isDeploymentEvent, list.reload, 1000)
  return (
    <div class="stack">
      <div class="title-row">
        <h1>Deployments</h1>
        <button type="button" class="primary" aria-expanded={creating} onClick={() => setCreating(!creating)}>
          Create a deployment
        </button>
      </div>
      {creating && (
        <CreateDeployment release={release ?? ''} onDone={(id) => navigate(href('deployments', id))} />
      )}
      <Tabs
        label="Deployment status"
        value={tab}
        options={[
          { value: 'inprogress', label: 'Active' },
          { value: 'scheduled', label: 'Scheduled' },
          { value: 'pending', label: 'Pending' },
          { value: 'finished', label: 'Finished' },
        ]}
        onChange={(t) => {
          setTab(t)
          setPage(1)
        }}
      />
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading what="deployments" />}
      {list.data?.total === 0 && <Empty>{EMPTY[tab]} Create one from a release to update devices.</Empty>}
      {list.data && list.data.deployments.length > 0 && (
        <DeploymentTable deployments={list.data.deployments} label={`${tab} deployments`} />
      )}
      {list.data && list.data.total > 0 && (
        <Pager page={page} perPage={PER_PAGE} total={list.data.total} onPage={setPage} label="Deployments" />
      )}
    </div>
  )
}
