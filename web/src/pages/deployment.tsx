import { useState } from 'preact/hooks'
import { DEVICE_DEPLOYMENT_STATUSES } from '../../../src/services/deployments/status.ts'
import { call, get } from '../api.ts'
import { type Deployment, type DeviceDeployment, progress } from '../deployments.ts'
import { count } from '../format.ts'
import { useLive } from '../live.ts'
import { href } from '../router.ts'
import {
  Choice,
  Empty,
  ErrorNote,
  Loading,
  Pager,
  Progress,
  Status,
  Table,
  Time,
  useAction,
  useLoad,
} from '../ui.tsx'
import { DeviceDeploymentCells, LogViewer } from './log.tsx'
import { RolloutPanel } from './rollout.tsx'

const PER_PAGE = 20
const STATUS_OPTIONS = [
  { value: '', label: 'in any status' },
  ...DEVICE_DEPLOYMENT_STATUSES.map((s) => ({ value: s as string, label: s.replace(/[-_]/g, ' ') })),
]

export function DeploymentPage({ id }: { id: string }) {
  const [page, setPage] = useState(1)
  const [status, setStatus] = useState('')
  const [log, setLog] = useState<string>()
  const deployment = useLoad(() => get<Deployment>(`v1/deployments/deployments/${id}`), [id])
  const devices = useLoad(async () => {
    const q = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) })
    if (status) q.set('status', status)
    const reply = await call<DeviceDeployment[]>('GET', `v1/deployments/deployments/${id}/devices/list?${q}`)
    return { devices: reply.data, total: Number(reply.headers.get('x-total-count') ?? reply.data.length) }
  }, [id, page, status])
  const action = useAction()
  const finished = deployment.data?.status === 'finished'
  useLive(
    (e) => e.subject === id || e.data.deployment_id === id,
    () => {
      deployment.reload()
      devices.reload()
    },
  )
  if (deployment.error) return <ErrorNote error={deployment.error} />
  if (!deployment.data) return <Loading what="the deployment" />
  const d = deployment.data
  const p = progress(d)
  const stats = Object.entries(d.statistics.status).filter(([, n]) => n > 0)
  const phaseIds = d.phases?.map((phase) => phase.id) ?? []
  const phaseOf =
    phaseIds.length > 1 ? (phaseId?: string) => (phaseId ? phaseIds.indexOf(phaseId) + 1 : '—') : undefined
  return (
    <div class="stack">
      <p>
        <a href={href('deployments')}>← Deployments</a>
      </p>
      <div class="title-row">
        <h1>{d.name}</h1>
        {!finished && (
          <button
            type="button"
            class="danger"
            disabled={action.busy}
            onClick={() =>
              confirm('Abort this deployment? Devices that have not installed it yet will not.') &&
              action
                .run(() =>
                  call('PUT', `v1/deployments/deployments/${id}/status`, { body: { status: 'aborted' } }),
                )
                .then(() => deployment.reload())
            }
          >
            Abort deployment
          </button>
        )}
      </div>
      <ErrorNote error={action.error} />
      <div class="card">
        <p>
          Release <a href={href('releases', d.artifact_name)}>{d.artifact_name}</a>, created{' '}
          <Time value={d.created} />
          {d.finished && (
            <>
              , finished <Time value={d.finished} />
            </>
          )}
          .{' '}
          {d.dynamic &&
            `Dynamic: devices matching the filter ${d.filter?.name ?? ''} join while it runs${d.max_devices ? `, at most ${count(d.max_devices)}` : ''}. `}
          <Status value={d.status} />
          {d.paused && <Status value="paused" />}
        </p>
        <div class="progress-line">
          <Progress value={p.done} max={p.total} label="Deployment progress" />
          <span>
            {count(p.done)} of {count(p.total)} devices done{p.failed ? `, ${count(p.failed)} failed` : ''}
          </span>
        </div>
        <ul class="stats" aria-label="Devices by status">
          {stats.length === 0 && <li class="muted">No device has picked it up yet.</li>}
          {stats.map(([s, n]) => (
            <li key={s}>
              <Status value={s} /> {count(n)}
            </li>
          ))}
        </ul>
      </div>
      <RolloutPanel d={d} onChange={deployment.reload} />
      <div class="toolbar">
        <h2>Devices</h2>
        <Choice
          label="Show devices"
          value={status}
          options={STATUS_OPTIONS}
          onValue={(value) => {
            setStatus(value)
            setPage(1)
          }}
        />
      </div>
      <ErrorNote error={devices.error} />
      {devices.data?.total === 0 && (
        <Empty>
          {status
            ? `No device is in status ${status}.`
            : 'No device has picked this deployment up yet: devices ask at their next update check.'}
        </Empty>
      )}
      {devices.data && devices.data.devices.length > 0 && (
        <Table
          label="Devices of this deployment"
          headers={[
            'Device',
            'Status',
            'Started',
            'Finished',
            'Log',
            'Attempts',
            ...(phaseOf ? ['Phase'] : []),
          ]}
        >
          {devices.data.devices.map((dev) => (
            <tr key={dev.id}>
              <td>
                <a href={href('devices', dev.id)}>{dev.id}</a>
              </td>
              <DeviceDeploymentCells device={dev} onLog={() => setLog(dev.id)} />
              <td>
                {dev.attempts ?? 1}
                {dev.timed_out && <Status value="timed-out" />}
              </td>
              {phaseOf && <td>{phaseOf(dev.phase_id)}</td>}
            </tr>
          ))}
        </Table>
      )}
      {devices.data && devices.data.total > 0 && (
        <Pager
          page={page}
          perPage={PER_PAGE}
          total={devices.data.total}
          onPage={setPage}
          label="Deployment devices"
        />
      )}
      {log && <LogViewer deploymentId={id} deviceId={log} onClose={() => setLog(undefined)} />}
    </div>
  )
}
