import type { RolloutPolicy } from './policy.ts'
import type { DeploymentStatus, DeviceDeploymentStatus, Stats } from './status.ts'
import { deployments } from './tables.ts'

type DeploymentRow = typeof deployments.$inferSelect

/** The property (column) holding each status's device count. */
export const STAT_KEYS = {
  failure: 'statFailure',
  aborted: 'statAborted',
  pause_before_installing: 'statPauseBeforeInstalling',
  pause_before_committing: 'statPauseBeforeCommitting',
  pause_before_rebooting: 'statPauseBeforeRebooting',
  downloading: 'statDownloading',
  installing: 'statInstalling',
  rebooting: 'statRebooting',
  pending: 'statPending',
  success: 'statSuccess',
  noartifact: 'statNoartifact',
  'already-installed': 'statAlreadyInstalled',
  decommissioned: 'statDecommissioned',
} as const satisfies Record<DeviceDeploymentStatus, keyof DeploymentRow>

export type StatKey = (typeof STAT_KEYS)[DeviceDeploymentStatus]
type StatFields = Pick<DeploymentRow, StatKey>

const STAT_ENTRIES = Object.entries(STAT_KEYS) as [DeviceDeploymentStatus, StatKey][]

export const statsOf = (row: StatFields): Stats =>
  Object.fromEntries(STAT_ENTRIES.map(([status, key]) => [status, row[key]])) as Stats

/** Every count as a column value, for `set()` and inserts. */
export const statValues = (stats: Stats): StatFields =>
  Object.fromEntries(STAT_ENTRIES.map(([status, key]) => [key, stats[status]])) as StatFields

/** The columns a count change answers with. */
export const STAT_RETURNING = {
  maxDevices: deployments.maxDevices,
  openPhases: deployments.openPhases,
  phaseCount: deployments.phaseCount,
  policy: deployments.policy,
  finished: deployments.finished,
  status: deployments.status,
  ...Object.fromEntries(STAT_ENTRIES.map(([, key]) => [key, deployments[key]])),
} as {
  maxDevices: typeof deployments.maxDevices
  openPhases: typeof deployments.openPhases
  phaseCount: typeof deployments.phaseCount
  policy: typeof deployments.policy
  finished: typeof deployments.finished
  status: typeof deployments.status
} & {
  [K in StatKey]: (typeof deployments)[K]
}

/** A deployment's counts after a change, with what decides its status. */
export type StatsAfter = {
  stats: Stats
  maxDevices: number
  finished: Date | null
  status: DeploymentStatus
  /** No phase has opened yet. */
  scheduled: boolean
  /** It has phase rows (phases or a policy): results move their gate counters. */
  phased: boolean
  policy: RolloutPolicy | null
}

/** The counts after a change, from the deployment's columns as the change answered them. */
export const statsAfter = (
  row: StatFields &
    Pick<DeploymentRow, 'maxDevices' | 'finished' | 'status' | 'openPhases' | 'phaseCount' | 'policy'>,
): StatsAfter => ({
  stats: statsOf(row),
  maxDevices: row.maxDevices,
  finished: row.finished,
  status: row.status,
  scheduled: row.openPhases === 0,
  phased: row.phaseCount > 0,
  policy: row.policy,
})
