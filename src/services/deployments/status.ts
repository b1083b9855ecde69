/**
 * Device deployment statuses in Mender's own order: the stored code is the position in this list
 * plus one, so sorting by code sorts as Mender does, and the active ones (pause_before_installing
 * through pending) are one contiguous range.
 */
export const DEVICE_DEPLOYMENT_STATUSES = [
  'failure',
  'aborted',
  'pause_before_installing',
  'pause_before_committing',
  'pause_before_rebooting',
  'downloading',
  'installing',
  'rebooting',
  'pending',
  'success',
  'noartifact',
  'already-installed',
  'decommissioned',
] as const
export type DeviceDeploymentStatus = (typeof DEVICE_DEPLOYMENT_STATUSES)[number]

/** What a device may report (`PUT .../status`); the server sets the others itself. */
export const DEVICE_REPORTED_STATUSES = [
  'downloading',
  'installing',
  'rebooting',
  'success',
  'failure',
  'already-installed',
  'pause_before_installing',
  'pause_before_committing',
  'pause_before_rebooting',
] as const satisfies readonly DeviceDeploymentStatus[]

export const statusCode = (status: DeviceDeploymentStatus): number =>
  DEVICE_DEPLOYMENT_STATUSES.indexOf(status) + 1

export const statusName = (code: number): DeviceDeploymentStatus => {
  const name = DEVICE_DEPLOYMENT_STATUSES[code - 1]
  if (!name) throw new Error(`deployments: unknown device deployment status code ${code}`)
  return name
}

export const CODE = {
  failure: statusCode('failure'),
  aborted: statusCode('aborted'),
  pauseFirst: statusCode('pause_before_installing'),
  pauseLast: statusCode('pause_before_rebooting'),
  pending: statusCode('pending'),
  success: statusCode('success'),
  noartifact: statusCode('noartifact'),
  alreadyInstalled: statusCode('already-installed'),
  decommissioned: statusCode('decommissioned'),
}

/** Unfinished: the device is still working on it (or has not started). */
export const isActiveStatus = (status: DeviceDeploymentStatus): boolean => {
  const code = statusCode(status)
  return code >= CODE.pauseFirst && code <= CODE.pending
}

/** The device-side end states; the server answers 409 on reports after the sticky two. */
const FINAL_STATUSES: readonly DeviceDeploymentStatus[] = [
  'failure',
  'aborted',
  'success',
  'noartifact',
  'already-installed',
  'decommissioned',
]

/** The codes a list filter (`status=`) selects: one status, or one of Mender's groups. */
export function statusFilterCodes(filter: string): number[] | undefined {
  if (filter === 'pause') return [CODE.pauseFirst, CODE.pauseFirst + 1, CODE.pauseLast]
  if (filter === 'active') {
    return Array.from({ length: CODE.pending - CODE.pauseFirst + 1 }, (_, i) => CODE.pauseFirst + i)
  }
  if (filter === 'finished') return FINAL_STATUSES.map(statusCode)
  const code = DEVICE_DEPLOYMENT_STATUSES.indexOf(filter as DeviceDeploymentStatus) + 1
  return code > 0 ? [code] : undefined
}

/** `scheduled`: no phase has opened yet (Mender Enterprise's status of a deployment set for later). */
export type DeploymentStatus = 'scheduled' | 'pending' | 'inprogress' | 'finished'

/** A deployment's count of devices in each device deployment status (Mender's `statistics.status`). */
export type Stats = Record<DeviceDeploymentStatus, number>

export const emptyStats = (): Stats =>
  Object.fromEntries(DEVICE_DEPLOYMENT_STATUSES.map((status) => [status, 0])) as Stats

/**
 * Mender's rule: finished once the devices in end states reach `max_devices` (or it was finished
 * before: aborted, say), scheduled while no phase has opened, in progress once any device left
 * pending, pending before.
 */
export function deploymentStatus(
  stats: Stats,
  maxDevices: number,
  finishedBefore: boolean,
  scheduled = false,
): DeploymentStatus {
  const done =
    stats.success +
    stats.failure +
    stats['already-installed'] +
    stats.noartifact +
    stats.decommissioned +
    stats.aborted
  if (finishedBefore || (maxDevices > 0 && done >= maxDevices)) return 'finished'
  if (scheduled) return 'scheduled'
  const started = DEVICE_DEPLOYMENT_STATUSES.some(
    (status) => status !== 'pending' && status !== 'decommissioned' && stats[status] > 0,
  )
  return started ? 'inprogress' : 'pending'
}
