import type { Clock } from '../../clock.ts'
import { ConflictError, UnprocessableError } from '../../gateway/errors.ts'
import type { Ids } from '../../ids.ts'
import type { ArtifactsService } from '../artifacts/service.ts'
import { assignPhases, type PhasePlan, planPhases } from './phases.ts'
import { checksumOf, type DeploymentInput } from './requests.ts'
import { emptyStats } from './status.ts'
import type { DeploymentRow } from './store.deployments.ts'
import type { PhaseRow } from './store.rollout.ts'
import { statValues } from './store.stats.ts'
import type { DeploymentsStore } from './store.ts'

/** What differs between the kinds of deployment: how its devices were chosen. */
export type DeploymentShape = Pick<
  DeploymentRow,
  'groups' | 'target' | 'maxDevices' | 'dynamic' | 'filter' | 'initialDeviceCount'
>

/** The one phase of a deployment that has a policy but no phases. */
const wholePhase = (size: number, start: Date): PhasePlan => ({
  batchSize: null,
  batchSizeDevices: null,
  start,
  size,
})

const phaseRow = (deployment: DeploymentRow, plan: PhasePlan, idx: number, id: string): PhaseRow => ({
  tenantId: deployment.tenantId,
  deploymentId: deployment.id,
  idx,
  id,
  batchSize: plan.batchSize,
  batchSizeDevices: plan.batchSizeDevices,
  startTs: plan.start,
  size: plan.size,
  deviceCount: 0,
  opened: null,
  finished: 0,
  failed: 0,
  succeeded: 0,
  held: false,
})

/**
 * Makes a deployment for a chosen device list: its phases planned and assigned, then stored with
 * its first phase opened when due, in one store call. The request was checked before.
 */
export function createDeploymentMaker(parts: {
  store: Pick<DeploymentsStore, 'createDeployment'>
  artifacts: Pick<ArtifactsService, 'findArtifactsByName'>
  clock: Clock
  ids: Ids
}) {
  const { store, artifacts, clock, ids } = parts

  return async function make(
    tenantId: string,
    input: DeploymentInput,
    deviceIds: string[],
    shape: DeploymentShape,
  ): Promise<string> {
    const found = await artifacts.findArtifactsByName(tenantId, input.artifact_name)
    if (found.length === 0) throw new UnprocessableError('No artifact for the deployment')
    const id = ids.uuid()
    const at = clock.now()
    const plans =
      planPhases(input, deviceIds.length, at) ?? (input.policy ? [wholePhase(deviceIds.length, at)] : [])
    const opensNow = plans.length === 0 || plans[0]!.start <= at
    const row: DeploymentRow = {
      id,
      tenantId,
      name: input.name,
      artifactName: input.artifact_name,
      created: at,
      finished: null,
      status: opensNow ? 'pending' : 'scheduled',
      deviceCount: 0,
      allDevices: input.all_devices === true,
      forceInstallation: input.force_installation === true,
      artifacts: found.map((a) => a.id),
      checksum: checksumOf(input, deviceIds),
      totalSize: 0,
      type: 'software',
      configuration: null,
      ...statValues({ ...emptyStats(), pending: deviceIds.length }),
      phaseCount: plans.length,
      openPhases: opensNow ? 1 : 0,
      retries: input.retries ?? 0,
      policy: input.policy ?? null,
      pausedAt: null,
      pauseReason: null,
      gateTripped: false,
      ...shape,
    }
    const made = await store.createDeployment(row, deviceIds, {
      devicePhases: plans.length > 1 ? assignPhases(id, deviceIds, plans) : undefined,
      phases: plans.map((plan, idx) => phaseRow(row, plan, idx, ids.uuid())),
      openFirst: opensNow,
    })
    if (!made) {
      throw new ConflictError(
        'Invalid deployment definition: there is already an active deployment with the same parameters',
      )
    }
    return made.id
  }
}
