import { join } from 'node:path'
import type { Leases } from '../../cluster/leases.ts'
import type { Deps } from '../../deps.ts'
import type { Paging } from '../../gateway/paging.ts'
import { createConfigurationArtifacts } from './configuration.ts'
import type { ApiDeployment, ApiDeviceDeployment, Instructions, NextRequest } from './model.ts'
import type { DeploymentInput, DynamicDeploymentInput, ListInput, StatusChange } from './requests.ts'
import { createRolloutRunner } from './runner.ts'
import { createSelection } from './selection.ts'
import { type ConfigurationDeploymentInput, createConfigurationApi } from './service.configurations.ts'
import { createDeviceApi } from './service.devices.ts'
import {
  createManagementApi,
  type DeploymentsArtifacts,
  type DeploymentsInventory,
} from './service.management.ts'
import type { Stats } from './status.ts'
import type { LogMessage } from './tables.ts'

/** A page of deployments, with the total for X-Total-Count. */
export type DeploymentListing = { deployments: ApiDeployment[]; total: number; hasNext: boolean }
/** One entry of a device's deployment history. */
export type DeviceHistoryItem = { id: string; deployment?: ApiDeployment; device: ApiDeviceDeployment }

/** Deployments: rolling artifacts out to devices and tracking each device to an end state. */
export interface DeploymentsService {
  /**
   * The device's next deployment: undefined when there is nothing to do (204), the poll's usual
   * answer, which reads nothing while the tenant has no active deployment.
   */
  nextDeployment(tenantId: string, deviceId: string, request: NextRequest): Promise<Instructions | undefined>
  /**
   * A status report. No transition rule but Mender's: once aborted or decommissioned, the device
   * gets 409 (and rolls back); the same status again changes nothing.
   */
  reportStatus(
    tenantId: string,
    deviceId: string,
    deploymentId: string,
    status: string,
    substate?: string,
  ): Promise<void>
  /** Stores the device's log for the deployment (a second upload replaces the first). */
  saveLog(
    tenantId: string,
    deviceId: string,
    deploymentId: string,
    messages: readonly LogMessage[],
  ): Promise<void>
  /** Makes a deployment; the device list is fixed now. Answers its id. */
  createDeployment(tenantId: string, input: DeploymentInput): Promise<string>
  /**
   * Makes a dynamic deployment for a saved filter: the accepted devices matching it now, and those
   * that come to match it while it is active (see `runDue`). Answers its id.
   */
  createDynamicDeployment(tenantId: string, input: DynamicDeploymentInput): Promise<string>
  /** Deployments matching the filters, newest first; a name that is a device's id lists that device's. */
  listDeployments(tenantId: string, input: ListInput, paging: Paging): Promise<DeploymentListing>
  /** One deployment; 404 when unknown. */
  getDeployment(tenantId: string, id: string): Promise<ApiDeployment>
  /** The deployment's device counts by status. */
  getStatistics(tenantId: string, id: string): Promise<Stats>
  /** Statistics of several deployments; an empty list answers `{}` (as Mender does). */
  listStatistics(
    tenantId: string,
    ids: string[] | undefined,
  ): Promise<{ id: string; stats: Stats }[] | Record<string, never>>
  /** Every device deployment of a deployment (Mender's unpaged list), with the artifact each got. */
  listDeviceDeployments(tenantId: string, id: string): Promise<ApiDeviceDeployment[]>
  /** A page of a deployment's device deployments, of one status when given. */
  pageDeviceDeployments(
    tenantId: string,
    id: string,
    status: string | undefined,
    paging: Paging,
  ): Promise<{ devices: ApiDeviceDeployment[]; total: number }>
  /** The ids of the devices the deployment was made for. */
  deviceList(tenantId: string, id: string): Promise<string[]>
  /** The device's log for the deployment as text, or 404 when it sent none. */
  deviceLog(tenantId: string, deploymentId: string, deviceId: string): Promise<string>
  /**
   * `aborted`: its unfinished devices are aborted, its counts recounted, and it is finished.
   * `paused`: no device that has not started gets it until `resumed`; resuming after a failure
   * gate paused it needs `override` (409 otherwise).
   */
  changeDeploymentStatus(tenantId: string, id: string, change: StatusChange): Promise<void>
  /**
   * One slice of the rollout's background work: opens phases whose time has come (gates
   * permitting) and counts devices in flight past their timeout as failed. Answers how much it
   * did; the service's timer calls it, tests call it after moving the clock.
   */
  runDue(): Promise<number>
  /** A device changed (accepted, inventory written): it is matched against active dynamic deployments at the next slice. */
  deviceChanged(tenantId: string, deviceId: string): void
  /** Stops the timer. */
  stop(): void
  /** A device's deployment history, newest first, with each deployment. */
  deviceHistory(
    tenantId: string,
    deviceId: string,
    status: string | undefined,
    paging: Paging,
  ): Promise<{ items: DeviceHistoryItem[]; total: number }>
  /** Aborts the device's unfinished deployments and those it has not picked up yet. */
  abortDeviceDeployments(tenantId: string, deviceId: string): Promise<void>
  /** Marks the device's finished deployments deleted: it becomes eligible again for active ones. */
  deleteDeviceHistory(tenantId: string, deviceId: string): Promise<void>
  /**
   * The device is gone: its unfinished and not yet picked up deployments become `decommissioned`.
   * Idempotent: deviceauth calls it after its own commit, and the `device-decommissioned` event
   * repeats it after a crash in between.
   */
  markDeviceDecommissioned(tenantId: string, deviceId: string): Promise<void>
  /** Ids of the unfinished deployments of any of these artifact names (their artifacts stay). */
  activeDeploymentIds(tenantId: string, artifactNames: readonly string[]): Promise<string[]>
  /** Whether any deployment, finished or not, deployed artifacts of this name. */
  isNameInAnyDeployment(tenantId: string, artifactName: string): Promise<boolean>
  /** Makes deviceconfig's configuration deployment for one device; 409 when a deployment has that id. */
  createConfigurationDeployment(tenantId: string, input: ConfigurationDeploymentInput): Promise<void>
}

export function createDeploymentsService(
  deps: Deps,
  services: { inventory: DeploymentsInventory; artifacts: DeploymentsArtifacts; leases?: Leases },
): DeploymentsService {
  const store = deps.stores.deployments
  const { artifacts } = services
  const selectDeployment = createSelection({ store, artifacts })
  const runner = createRolloutRunner(
    store,
    deps.clock,
    (tenantId, filterId, among) => services.inventory.matchingDeviceIds(tenantId, filterId, among),
    services.leases,
  )

  return {
    ...createManagementApi({
      store,
      artifacts,
      inventory: services.inventory,
      clock: deps.clock,
      ids: deps.ids,
    }),
    ...createDeviceApi({
      store,
      selectDeployment,
      links: deps.links,
      configurations: createConfigurationArtifacts({
        blobs: deps.blobs,
        links: deps.links,
        tempDir: join(deps.config.dataDir, 'tmp'),
      }),
    }),
    ...createConfigurationApi({ store, clock: deps.clock }),
    runDue: runner.runDue,
    deviceChanged: runner.deviceChanged,
    stop: runner.stop,
    activeDeploymentIds: (tenantId, artifactNames) => store.activeDeploymentIds(tenantId, artifactNames),
    isNameInAnyDeployment: (tenantId, artifactName) => store.usesArtifactName(tenantId, artifactName),
  }
}
