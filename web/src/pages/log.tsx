import { type DeviceDeployment, deviceLog } from '../deployments.ts'
import { ErrorNote, Loading, Status, Time, useLoad } from '../ui.tsx'

/** A device's deployment log as the device uploaded it (one line a message). */
export function LogViewer(props: { deploymentId: string; deviceId: string; onClose: () => void }) {
  const log = useLoad(
    () => deviceLog(props.deploymentId, props.deviceId),
    [props.deploymentId, props.deviceId],
  )
  return (
    <section class="card log" aria-label="Deployment log">
      <div class="title-row">
        <h2>Log of device {props.deviceId}</h2>
        <button type="button" onClick={props.onClose}>
          Close log
        </button>
      </div>
      <ErrorNote error={log.error} />
      {log.loading && <Loading what="the log" />}
      {log.data !== undefined && <pre>{log.data || 'The log is empty.'}</pre>}
    </section>
  )
}

/** A device deployment's status, times and log button, as table cells. */
export function DeviceDeploymentCells(props: { device: DeviceDeployment; onLog: (() => void) | undefined }) {
  const { device } = props
  return (
    <>
      <td>
        <Status value={device.status} />
        {device.substate && <span class="small muted"> {device.substate}</span>}
      </td>
      <td>
        <Time value={device.started ?? device.created} />
      </td>
      <td>
        <Time value={device.finished} />
      </td>
      <td>
        {device.log && props.onLog ? (
          <button type="button" onClick={props.onLog}>
            Show log
          </button>
        ) : (
          '—'
        )}
      </td>
    </>
  )
}
