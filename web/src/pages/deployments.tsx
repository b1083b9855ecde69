import { useState } from 'preact/hooks'
import { call } from '../api.ts'
import { type Deployment, progress } from '../deployments.ts'
import { count, plural } from '../format.ts'
import { isDeploymentEvent, useLive } from '../live.ts'
import { href, navigate, type Route } from '../router.ts'
import { Empty, ErrorNote, Loading, Pager, Progress, Status, Table, Tabs, Time, useLoad } from '../ui.tsx'
import { CreateDeployment } from './create-deployment.tsx'

const PER_PAGE = 20
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
          : d.dynamic
            ? `filter ${d.filter?.name ?? ''}`
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
