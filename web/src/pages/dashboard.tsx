import { useState } from 'preact/hooks'
import { type Deployment, FAILED } from '../deployments.ts'
import {
  countDevices,
  deviceIdentity,
  type Filter,
  type InventoryDevice,
  STATUSES,
  searchDevices,
} from '../devices.ts'
import { count, plural } from '../format.ts'
import { isDeploymentEvent, isDeviceEvent, useLive } from '../live.ts'
import { href } from '../router.ts'
import { Choice, Empty, ErrorNote, Loading, Time, useLoad } from '../ui.tsx'
import { DeploymentTable, listDeployments } from './deployments.tsx'

const status = (value: string): Filter => ({ scope: 'identity', attribute: 'status', type: '$eq', value })
const SILENCE = [
  { hours: 1, label: 'an hour' },
  { hours: 24, label: 'a day' },
  { hours: 24 * 7, label: 'a week' },
]

function Counts() {
  const counts = useLoad(() => Promise.all(STATUSES.map((s) => countDevices([status(s)]))), [])
  useLive(isDeviceEvent, counts.reload, 1000)
  return (
    <section class="card" aria-labelledby="fleet">
      <h2 id="fleet">Devices</h2>
      <ErrorNote error={counts.error} />
      <ul class="counts">
        {STATUSES.map((s, i) => (
          <li key={s}>
            <a href={`${href('devices')}?status=${s}`}>
              <strong>{counts.data ? count(counts.data[i]!) : '…'}</strong> {s}
            </a>
          </li>
        ))}
      </ul>
    </section>
  )
}

function Pending() {
  const list = useLoad(
    () => searchDevices({ page: 1, perPage: 5, status: 'pending', filters: [], text: '', columns: [] }),
    [],
  )
  useLive(isDeviceEvent, list.reload, 1000)
  return (
    <section class="card" aria-labelledby="pending">
      <h2 id="pending">Waiting for a decision</h2>
      <ErrorNote error={list.error} />
      {list.data?.total === 0 && (
        <Empty>No device is waiting. New devices appear here when they first ask to join.</Empty>
      )}
      <ul class="plain">
        {list.data?.devices.map((d) => (
          <li key={d.id}>
            <a href={href('devices', d.id)}>{deviceIdentity(d)}</a>
          </li>
        ))}
      </ul>
      {list.data && list.data.total > 5 && (
        <a href={`${href('devices')}?status=pending`}>All {count(list.data.total)} pending devices</a>
      )}
    </section>
  )
}

function Silent() {
  const [hours, setHours] = useState(24)
  const list = useLoad(async () => {
    const before = new Date(Date.now() - hours * 3600_000).toISOString()
    const filters = [
      status('accepted'),
      { scope: 'system', attribute: 'check_in_time', type: '$lt', value: before },
    ]
    return searchDevices({
      page: 1,
      perPage: 5,
      filters,
      text: '',
      columns: [{ scope: 'system', attribute: 'check_in_time' }],
      sort: { scope: 'system', attribute: 'check_in_time', order: 'asc' },
    })
  }, [hours])
  return (
    <section class="card" aria-labelledby="silent">
      <div class="title-row">
        <h2 id="silent">Gone silent</h2>
        <Choice
          label="No check-in for"
          value={hours}
          options={SILENCE.map((s) => ({ value: s.hours, label: s.label }))}
          onValue={setHours}
        />
      </div>
      <ErrorNote error={list.error} />
      {list.data?.total === 0 && <Empty>Every accepted device checked in within that time.</Empty>}
      <ul class="plain">
        {list.data?.devices.map((d: InventoryDevice) => (
          <li key={d.id}>
            <a href={href('devices', d.id)}>{deviceIdentity(d)}</a>{' '}
            <span class="muted small">
              last check-in{' '}
              <Time value={d.attributes.find((a) => a.name === 'check_in_time')?.value as string} />
            </span>
          </li>
        ))}
      </ul>
      {list.data && list.data.total > 5 && <p class="small">{plural(list.data.total, 'device')} in all.</p>}
    </section>
  )
}

function Failures() {
  const list = useLoad(
    async () =>
      (await listDeployments('finished', 1, 20)).deployments
        .filter((d: Deployment) => FAILED.some((s) => (d.statistics.status[s] ?? 0) > 0))
        .slice(0, 5),
    [],
  )
  useLive((e) => e.type === 'deployment-finished', list.reload, 1000)
  return (
    <section class="card" aria-labelledby="failures">
      <h2 id="failures">Latest failures</h2>
      <ErrorNote error={list.error} />
      {list.data?.length === 0 && <Empty>No recent deployment had a failed device.</Empty>}
      {list.data && list.data.length > 0 && (
        <DeploymentTable deployments={list.data} label="Deployments with failures" />
      )}
    </section>
  )
}

function Active() {
  const list = useLoad(async () => {
    const [running, pending] = await Promise.all([
      listDeployments('inprogress', 1, 10),
      listDeployments('pending', 1, 10),
    ])
    return [...running.deployments, ...pending.deployments]
  }, [])
  useLive(isDeploymentEvent, list.reload, 1000)
  return (
    <section class="card" aria-labelledby="active">
      <h2 id="active">Active and pending deployments</h2>
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading what="deployments" />}
      {list.data?.length === 0 && (
        <Empty>
          Nothing is being deployed. <a href={href('deployments')}>Create a deployment</a> from a release.
        </Empty>
      )}
      {list.data && list.data.length > 0 && (
        <DeploymentTable deployments={list.data} label="Active deployments" />
      )}
    </section>
  )
}

export function DashboardPage() {
  return (
    <div class="stack">
      <h1>Dashboard</h1>
      <div class="grid2">
        <Counts />
        <Pending />
      </div>
      <Active />
      <div class="grid2">
        <Failures />
        <Silent />
      </div>
    </div>
  )
}
