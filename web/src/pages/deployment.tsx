import { useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import { type Deployment, type DeviceDeployment, progress } from '../deployments.ts'
import { count } from '../format.ts'
import { useLive } from '../live.ts'
import { href } from '../router.ts'
import { Empty, ErrorNote, Loading, Pager, Progress, Status, Time, useAction, useLoad } from '../ui.tsx'
import { LogViewer } from './log.tsx'

const PER_PAGE = 20
const STATUSES = [
  '',
  'pending',
  'downloading',
  'installing',
  'rebooting',
  'success',
  'failure',
  'already-installed',
  'noartifact',
  'aborted',
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
          . <Status value={d.status} />
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
      <div class="toolbar">
        <h2>Devices</h2>
        <label>
          Show devices
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value)
              setPage(1)
            }}
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s ? s.replace(/-/g, ' ') : 'in any status'}
              </option>
            ))}
          </select>
        </label>
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
        <div class="table-wrap">
          <table aria-label="Devices of this deployment">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
                <th scope="col">Log</th>
              </tr>
            </thead>
            <tbody>
              {devices.data.devices.map((dev) => (
                <tr key={dev.id}>
                  <td>
                    <a href={href('devices', dev.id)}>{dev.id}</a>
                  </td>
                  <td>
                    <Status value={dev.status} />
                    {dev.substate && <span class="small muted"> {dev.substate}</span>}
                  </td>
                  <td>
                    <Time value={dev.started} />
                  </td>
                  <td>
                    <Time value={dev.finished} />
                  </td>
                  <td>
                    {dev.log ? (
                      <button type="button" onClick={() => setLog(dev.id)}>
                        Show log
                      </button>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
