import type { ApiArtifact } from '../artifacts/model.ts'
import type { ApiDeployment, ApiDeviceDeployment } from './model.ts'
import { statusName } from './status.ts'
import type { DeploymentRow } from './store.deployments.ts'
import type { DeviceDeploymentRow } from './store.devices.ts'
import type { PhaseRow, RolloutLogEntry } from './store.rollout.ts'
import { statsOf } from './store.stats.ts'
import type { LogMessage } from './tables.ts'

const term = (scope: string, attribute: string, type: string, value: unknown) => ({
  scope,
  attribute,
  type,
  value,
})

/** A phase as Mender Enterprise shows it, with bender's own `device_total` and `opened`. */
const toApiPhase = (phase: PhaseRow) => ({
  id: phase.id,
  ...(phase.batchSize === null ? {} : { batch_size: phase.batchSize }),
  ...(phase.batchSizeDevices === null ? {} : { batch_size_devices: phase.batchSizeDevices }),
  start_ts: phase.startTs.toISOString(),
  device_count: phase.deviceCount,
  device_total: phase.size,
  ...(phase.opened ? { opened: phase.opened.toISOString() } : {}),
})

/** The rollout's part of a deployment: its phases, retries, policy, pause, and (for one deployment) its log. */
function rolloutOf(row: DeploymentRow, phases?: PhaseRow[], log?: RolloutLogEntry[]) {
  return {
    ...(phases && phases.length > 0 ? { phases: phases.map(toApiPhase) } : {}),
    ...(row.retries > 0 ? { retries: row.retries } : {}),
    ...(row.policy ? { policy: row.policy } : {}),
    ...(row.pausedAt
      ? {
          paused: true,
          paused_at: row.pausedAt.toISOString(),
          pause_reason: row.pauseReason ?? '',
          resume_needs_override: row.gateTripped,
        }
      : {}),
    ...(log
      ? {
          rollout_log: log.map((entry) => ({
            time: entry.time.toISOString(),
            kind: entry.kind,
            ...(entry.phase === null ? {} : { phase: entry.phase }),
            reason: entry.reason,
          })),
        }
      : {}),
  }
}

/**
 * A deployment as Mender's API shows it: `all_devices` and `force_installation` only when set;
 * `deviceIds` (its device list) is needed for the filter of a deployment made for listed devices.
 */
export function toApiDeployment(
  row: DeploymentRow,
  deviceIds: readonly string[],
  rollout: { phases?: PhaseRow[]; log?: RolloutLogEntry[] } = {},
): ApiDeployment {
  const terms =
    row.target === 'filter'
      ? (row.filter?.terms ?? [])
      : row.target === 'group'
        ? [term('system', 'group', '$eq', row.groups[0] ?? '')]
        : row.target === 'all'
          ? [term('identity', 'status', '$eq', 'accepted')]
          : [term('identity', 'id', '$in', [...deviceIds])]
  return {
    id: row.id,
    name: row.name,
    artifact_name: row.artifactName,
    created: row.created.toISOString(),
    ...(row.finished ? { finished: row.finished.toISOString() } : {}),
    status: row.status,
    device_count: row.deviceCount,
    max_devices: row.maxDevices,
    ...(row.artifacts.length > 0 ? { artifacts: row.artifacts } : {}),
    ...(row.groups.length > 0 ? { groups: row.groups } : {}),
    filter: { id: row.filter?.id ?? '', name: row.filter?.name ?? '', terms },
    ...(row.dynamic ? { dynamic: true, initial_device_count: row.initialDeviceCount } : {}),
    type: row.type,
    statistics: { status: statsOf(row), total_size: row.totalSize },
    ...(row.allDevices ? { all_devices: true } : {}),
    ...(row.forceInstallation ? { force_installation: true } : {}),
    ...rolloutOf(row, rollout.phases, rollout.log),
  }
}

/** One device's part in a deployment; `image` is the artifact it was given, when it still exists. */
export function toApiDeviceDeployment(
  row: DeviceDeploymentRow,
  image?: ApiArtifact,
  phaseId?: string,
): ApiDeviceDeployment {
  return {
    id: row.deviceId,
    status: statusName(row.status),
    created: row.created.toISOString(),
    ...(row.started ? { started: row.started.toISOString() } : {}),
    ...(row.finished ? { finished: row.finished.toISOString() } : {}),
    ...(row.deleted ? { deleted: row.deleted.toISOString() } : {}),
    ...(row.substate ? { substate: row.substate } : {}),
    log: row.log,
    ...(image === undefined ? {} : { image }),
    ...(phaseId === undefined ? {} : { phase_id: phaseId }),
    attempts: row.attempts,
    ...(row.timedOut ? { timed_out: true } : {}),
  }
}

/** Go's `time.Time.String()` in UTC, as Mender prints log times: `2006-01-02 15:04:05.999 +0000 UTC`. */
function goTime(iso: string): string {
  const date = new Date(iso)
  const [day, time] = date.toISOString().split('T') as [string, string]
  const [clock, fraction] = time.slice(0, -1).split('.') as [string, string]
  const trimmed = fraction.replace(/0+$/, '')
  return `${day} ${clock}${trimmed ? `.${trimmed}` : ''} +0000 UTC`
}

/** A device's deployment log as Mender serves it: `<time> <level>: <message>`, one line each. */
export function formatLog(messages: readonly LogMessage[]): string {
  return messages
    .map((m) => {
      const line = `${goTime(m.timestamp)} ${m.level}: ${m.message}`
      return line.endsWith('\n') ? line : `${line}\n`
    })
    .join('')
}
