import type { ArtifactRow } from '../artifacts/model.ts'
import { statusName } from './status.ts'
import { type Awaitable, type Steps, step } from './steps.ts'
import type { DeploymentRow, DeploymentRows, RuleDeploymentRows } from './store.deployments.ts'
import type { DeviceDeploymentRow, DeviceDeploymentRows, RuleDeviceDeploymentRows } from './store.devices.ts'
import type { Transitions } from './transitions.ts'

/** What a device asking for an update gets: nothing (204), a conflict (409), or an artifact to install. */
export type Selection =
  | { kind: 'none' }
  | { kind: 'conflict' }
  | { kind: 'deploy'; deploymentId: string; artifact: ArtifactRow }
  | { kind: 'configure'; deployment: DeploymentRow }

export const NONE: Selection = { kind: 'none' }

/**
 * The deployment a device would get now: its unfinished device deployment's, else the oldest it
 * has not started that it may start (see UNSTARTED_DEPLOYMENTS in store.devices.ts).
 */
export type NextCandidate = {
  deployment: DeploymentRow
  /** Its unfinished device deployment, if it has one. */
  active?: DeviceDeploymentRow
  /** Its phase in a deployment it has not started. */
  phase: number
}

/**
 * A device's pick-up of a candidate, with what was read before it from artifacts: `artifact` is
 * the one its device deployment already has (`assigned` false) or the deployment's artifact for
 * its device type, chosen now (`assigned` true); none when none fits.
 */
export type PickUp = {
  tenantId: string
  deviceId: string
  deploymentId: string
  /** The device deployment the candidate had, as read (null: none, a first pick-up). */
  seen: { seq: number; artifactId: string | null } | null
  /** What the device said about itself, as stored with its device deployment. */
  requestKey: string
  /** The artifact the device runs now. */
  runningArtifact: string
  artifact?: ArtifactRow
  assigned: boolean
}

/** The candidate moved between the read and the pick-up (another request of the device): read again. */
export type Stale = { kind: 'stale' }

/** The poll's reads on SQLite: the candidate, or undefined; nothing is read while the tenant has nothing active. */
export function findNextCandidate(
  rows: DeploymentRows,
  devices: DeviceDeploymentRows,
  tenantId: string,
  deviceId: string,
): NextCandidate | undefined {
  const since = rows.oldestActiveCreated(tenantId)
  if (since === null) return undefined
  const { activeSeq, listed } = devices.pollLookup(tenantId, deviceId, since)
  if (activeSeq === null && !listed) return undefined
  const active = activeSeq === null ? undefined : devices.findBySeq(activeSeq)
  const unstarted = active ? undefined : devices.firstUnstartedDeployment(tenantId, deviceId)
  const deploymentId = active ? active.deploymentId : unstarted?.id
  const deployment = deploymentId === undefined ? undefined : rows.findDeployment(tenantId, deploymentId)
  return deployment && { deployment, active, phase: unstarted?.phase ?? 0 }
}

/**
 * Which deployment a device gets (Mender's rules), inside one transaction: the candidate is read
 * again and must be the one the artifacts were chosen for. A request unlike the one stored is a
 * conflict (the device deployment fails, so the client rolls back); no artifact for the device
 * type is `noartifact`; an artifact the device already runs is `already-installed`, unless the
 * deployment forces installation. The device, then the deployment, are held first (the order
 * every change keeps), so two pick-ups of one device on two instances cannot both make one.
 */
export function* pickUpRule(
  rows: RuleDeploymentRows,
  devices: RuleDeviceDeploymentRows,
  transitions: Transitions,
  findNext: (tenantId: string, deviceId: string) => Awaitable<NextCandidate | undefined>,
  pick: PickUp,
): Steps<Selection | Stale> {
  const { tenantId, deviceId } = pick
  yield* step(devices.lockDevice(tenantId, deviceId))
  yield* step(rows.lockDeployment(tenantId, pick.deploymentId))
  const next = yield* step(findNext(tenantId, deviceId))
  const { deployment, active } = next ?? {}
  if (!deployment) return NONE
  const seen = pick.seen
  const same = active ? seen?.seq === active.seq && seen.artifactId === active.artifactId : seen === null
  if (deployment.id !== pick.deploymentId || !same) return { kind: 'stale' }
  let row: DeviceDeploymentRow
  if (active) {
    row = active
    if (row.request !== null && row.request !== pick.requestKey) {
      yield* transitions.setStatus(row, 'failure')
      return { kind: 'conflict' }
    }
    if (row.request === null) yield* step(devices.saveRequest(row.seq, pick.requestKey))
    // Its artifact is made for the device's type when the device asks: there is none to choose.
    if (deployment.type === 'configuration') return { kind: 'configure', deployment }
    if (pick.assigned && pick.artifact) yield* step(devices.assignArtifact(row.seq, pick.artifact.id))
  } else {
    // A first pick-up: the request and the artifact go into the new row itself.
    const artifactId = deployment.type === 'configuration' ? null : (pick.artifact?.id ?? null)
    row = yield* transitions.create(deployment, deviceId, 'pending', next?.phase ?? 0, {
      request: pick.requestKey,
      artifactId,
    })
    if (deployment.type === 'configuration') return { kind: 'configure', deployment }
  }
  const { artifact, assigned } = pick
  if (!artifact) {
    yield* transitions.setStatus(row, 'noartifact')
    return NONE
  }
  // An artifact uploaded after the deployment was made joins it, as in Mender.
  if (assigned && !deployment.artifacts.includes(artifact.id))
    yield* step(rows.addArtifact(tenantId, deployment.id, artifact.id))
  if (
    !deployment.forceInstallation &&
    pick.runningArtifact === artifact.name &&
    statusName(row.status) === 'pending'
  ) {
    yield* transitions.setStatus(row, 'already-installed')
    return NONE
  }
  if (assigned) yield* step(rows.addTotalSize(tenantId, deployment.id, artifact.size))
  return { kind: 'deploy', deploymentId: deployment.id, artifact }
}
