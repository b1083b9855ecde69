import type { ArtifactRow } from '../artifacts/model.ts'
import type { NextRequest } from './model.ts'
import { type NextCandidate, NONE, type Selection } from './pickup.ts'
import type { DeploymentsArtifacts } from './service.management.ts'
import type { DeploymentsStore } from './store.ts'

/** What the device said about itself, as stored with its device deployment: a later different one is a conflict. */
const requestKey = (request: NextRequest): string =>
  JSON.stringify([
    request.artifact_name,
    request.device_type,
    Object.entries(request.artifact_provides ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ])

/** A device asking again while its first request is being answered moves the candidate; it is read again this often. */
const PICK_UP_TRIES = 3

/**
 * Which deployment a device gets (Mender's rules, applied by the store's pick-up, see pickup.ts):
 * its unfinished device deployment if it has one, else the oldest active deployment listing it
 * that was created after its newest finished one; then the deployment's artifact for its device
 * type, read from artifacts before the pick-up.
 *
 * The common answer, nothing, costs no write and at most one prepared statement: none while no
 * deployment of the tenant is active (known in memory), one of two index probes while some are.
 * Artifacts are read only for a device named in a recent device list, and writes happen only once
 * there is something to hand out.
 */
export function createSelection(parts: { store: DeploymentsStore; artifacts: DeploymentsArtifacts }) {
  const { store, artifacts } = parts

  /**
   * The artifact for the candidate: the one its device deployment has (if it still exists), else
   * the deployment's artifact for the device type (`assigned`: chosen now). None for a
   * configuration deployment, whose artifact is made when the device asks.
   */
  async function artifactFor(
    candidate: NextCandidate,
    deviceType: string,
  ): Promise<{ artifact?: ArtifactRow; assigned: boolean }> {
    const { deployment, active } = candidate
    if (deployment.type === 'configuration') return { assigned: false }
    const current = active?.artifactId
      ? await artifacts.findArtifactById(deployment.tenantId, active.artifactId)
      : undefined
    if (current) return { artifact: current, assigned: false }
    const all = await artifacts.findArtifactsByName(deployment.tenantId, deployment.artifactName)
    return { artifact: all.find((candidate) => candidate.deviceTypes.includes(deviceType)), assigned: true }
  }

  return async function selectDeployment(
    tenantId: string,
    deviceId: string,
    request: NextRequest,
  ): Promise<Selection> {
    for (let attempt = 0; attempt < PICK_UP_TRIES; attempt++) {
      const candidate = await store.findNext(tenantId, deviceId)
      if (!candidate) return NONE
      const { deployment, active } = candidate
      const picked = await store.pickUp({
        tenantId,
        deviceId,
        deploymentId: deployment.id,
        seen: active ? { seq: active.seq, artifactId: active.artifactId } : null,
        requestKey: requestKey(request),
        runningArtifact: request.artifact_name,
        ...(await artifactFor(candidate, request.device_type)),
      })
      if (picked.kind !== 'stale') return picked
    }
    // Still moving after a few reads: the device asks again at its next poll.
    return NONE
  }
}
