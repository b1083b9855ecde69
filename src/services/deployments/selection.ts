import type { ArtifactRow } from '../artifacts/model.ts'
import type { NextRequest } from './model.ts'
import type { DeploymentsArtifacts } from './service.management.ts'
import { statusName } from './status.ts'
import type { DeviceDeploymentRow, DeviceDeploymentsStore } from './store.devices.ts'
import type { DeploymentRow, DeploymentsStore } from './store.ts'
import type { Transitions } from './transitions.ts'

/** What a device asking for an update gets: nothing (204), a conflict (409), or an artifact to install. */
export type Selection =
  | { kind: 'none' }
  | { kind: 'conflict' }
  | { kind: 'deploy'; deploymentId: string; artifact: ArtifactRow }
  | { kind: 'configure'; deployment: DeploymentRow }

const NONE: Selection = { kind: 'none' }

/** What the device said about itself, as stored with its device deployment: a later different one is a conflict. */
const requestKey = (request: NextRequest): string =>
  JSON.stringify([
    request.artifact_name,
    request.device_type,
    Object.entries(request.artifact_provides ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ])

/**
 * Which deployment a device gets (Mender's rules): its unfinished device deployment if it has one,
 * else the oldest active deployment listing it that was created after its newest finished one;
 * then the deployment's artifact for its device type (none: `noartifact`), unless the device
 * already runs it (`already-installed`, unless the deployment forces installation).
 *
 * The common answer, nothing, costs no write and at most one prepared statement: none while no
 * deployment of the tenant is active (known in memory), one of two index probes while some are.
 * The full selection query runs only for a device named in a recent device list, and writes happen
 * only once there is something to hand out.
 */
export function createSelection(parts: {
  store: DeploymentsStore
  devices: DeviceDeploymentsStore
  artifacts: DeploymentsArtifacts
  transitions: Transitions
}) {
  const { store, devices, artifacts, transitions } = parts

  /** The deployment's artifact for a device type (undefined: none fits). */
  const artifactForType = (deployment: DeploymentRow, deviceType: string) =>
    artifacts
      .findArtifactsByName(deployment.tenantId, deployment.artifactName)
      .find((candidate) => candidate.deviceTypes.includes(deviceType))

  /**
   * The artifact of an existing device deployment, chosen now if it has none (or lost it);
   * `assigned` when chosen now. Undefined: none fits.
   */
  function artifactOf(
    row: DeviceDeploymentRow,
    deployment: DeploymentRow,
    deviceType: string,
  ): { artifact: ArtifactRow; assigned: boolean } | undefined {
    const current = row.artifactId ? artifacts.findArtifactById(row.tenantId, row.artifactId) : undefined
    if (current) return { artifact: current, assigned: false }
    const artifact = artifactForType(deployment, deviceType)
    if (!artifact) return undefined
    devices.assignArtifact(row.seq, artifact.id)
    return { artifact, assigned: true }
  }

  return function selectDeployment(tenantId: string, deviceId: string, request: NextRequest): Selection {
    const since = store.oldestActiveCreated(tenantId)
    if (since === null) return NONE
    const { activeSeq, listed } = devices.pollLookup(tenantId, deviceId, since)
    if (activeSeq === null && !listed) return NONE
    const active = activeSeq === null ? undefined : devices.findBySeq(activeSeq)
    const deploymentId = active ? active.deploymentId : devices.firstUnstartedDeployment(tenantId, deviceId)
    const deployment = deploymentId === undefined ? undefined : store.findDeployment(tenantId, deploymentId)
    if (!deployment) return NONE

    return store.transaction((): Selection => {
      const key = requestKey(request)
      let row: DeviceDeploymentRow
      let chosen: { artifact: ArtifactRow; assigned: boolean } | undefined
      if (active) {
        row = active
        if (row.request !== null && row.request !== key) {
          // Mender fails the device deployment so that the client rolls back what it started.
          transitions.setStatus(row, 'failure')
          return { kind: 'conflict' }
        }
        if (row.request === null) devices.saveRequest(row.seq, key)
        // Its artifact is made for the device's type when the device asks: there is none to choose.
        if (deployment.type === 'configuration') return { kind: 'configure', deployment }
        chosen = artifactOf(row, deployment, request.device_type)
      } else if (deployment.type === 'configuration') {
        transitions.create(deployment, deviceId, 'pending', { request: key, artifactId: null })
        return { kind: 'configure', deployment }
      } else {
        // A first pick-up: the request and the artifact go into the new row itself.
        const artifact = artifactForType(deployment, request.device_type)
        row = transitions.create(deployment, deviceId, 'pending', {
          request: key,
          artifactId: artifact?.id ?? null,
        })
        chosen = artifact && { artifact, assigned: true }
      }
      if (!chosen) {
        transitions.setStatus(row, 'noartifact')
        return NONE
      }
      const { artifact, assigned } = chosen
      // An artifact uploaded after the deployment was made joins it, as in Mender.
      if (assigned && !deployment.artifacts.includes(artifact.id))
        store.addArtifact(tenantId, deployment.id, artifact.id)
      if (
        !deployment.forceInstallation &&
        request.artifact_name === artifact.name &&
        statusName(row.status) === 'pending'
      ) {
        transitions.setStatus(row, 'already-installed')
        return NONE
      }
      if (assigned) store.addTotalSize(tenantId, deployment.id, artifact.size)
      return { kind: 'deploy', deploymentId: deployment.id, artifact }
    })
  }
}
