import { get } from './api.ts'

export type Statistics = Record<string, number>
export type Deployment = {
  id: string
  name: string
  artifact_name: string
  created: string
  finished?: string
  status: 'pending' | 'inprogress' | 'finished'
  device_count: number
  max_devices: number
  groups?: string[]
  all_devices?: boolean
  force_installation?: boolean
  statistics: { status: Statistics; total_size: number }
}
export type DeviceDeployment = {
  id: string
  status: string
  created: string
  started?: string
  finished?: string
  substate?: string
  log: boolean
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
