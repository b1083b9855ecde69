import { get } from './api.ts'

export type Statistics = Record<string, number>
export type Deployment = {
  id: string
  name: string
  artifact_name: string
  created: string
  finished?: string
  status: 'scheduled' | 'pending' | 'inprogress' | 'finished'
  device_count: number
  max_devices: number
  groups?: string[]
  all_devices?: boolean
  force_installation?: boolean
  statistics: { status: Statistics; total_size: number }
  phases?: Phase[]
  /** Made for a saved filter: devices that come to match it join while it runs. */
  dynamic?: boolean
  filter?: { id: string; name: string }
  retries?: number
  policy?: RolloutPolicy
  paused?: boolean
  paused_at?: string
  pause_reason?: string
  /** A failure gate paused it: resuming takes an explicit override. */
  resume_needs_override?: boolean
  rollout_log?: { time: string; kind: string; phase?: number; reason: string }[]
}
/** A phase of a rollout: `device_total` devices placed in it, `device_count` of them started. */
export type Phase = {
  id: string
  batch_size?: number
  batch_size_devices?: number
  start_ts: string
  device_count: number
  device_total: number
  opened?: string
}
export type RolloutPolicy = {
  failure_gate?: {
    percent?: number
    min_finished?: number
    max_failures?: number
    action?: 'pause' | 'abort'
  }
  success_gate?: { percent: number }
  inflight_timeout?: number
}
export type DeviceDeployment = {
  id: string
  status: string
  created: string
  started?: string
  finished?: string
  substate?: string
  log: boolean
  /** Tries so far: more than one when the deployment allows retries. */
  attempts?: number
  phase_id?: string
  /** Counted as failed by the in-flight timeout. */
  timed_out?: boolean
}
export type LogMessage = { timestamp: string; level: string; message: string }

const DONE = ['success', 'failure', 'noartifact', 'already-installed', 'aborted', 'decommissioned']
export const FAILED = ['failure', 'aborted', 'decommissioned']

/** Devices that are through with the deployment, out of those it was made for. */
export function progress(d: Deployment): { done: number; failed: number; total: number } {
  const stats = d.statistics.status
  const done = DONE.reduce((sum, status) => sum + (stats[status] ?? 0), 0)
  const failed = FAILED.reduce((sum, status) => sum + (stats[status] ?? 0), 0)
  return { done, failed, total: Math.max(d.max_devices, d.device_count) }
}

export async function deviceLog(deploymentId: string, deviceId: string): Promise<string> {
  return get<string>(`v1/deployments/deployments/${deploymentId}/devices/${deviceId}/log`)
}
