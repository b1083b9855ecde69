import type { Clock } from '../../clock.ts'
import { ConflictError } from '../../gateway/errors.ts'
import { emptyStats } from './status.ts'
import type { DeploymentRow } from './store.deployments.ts'
import { statValues } from './store.stats.ts'
import type { DeploymentsStore } from './store.ts'

/** What deviceconfig asks for: one device, its configuration, the deployment id deviceconfig chose. */
export type ConfigurationDeploymentInput = {
  deploymentId: string
  deviceId: string
  /** The deployment's name, which is also the generated artifact's name. */
  name: string
  configuration: Record<string, string>
  /** More attempts the device gets after a failed one (0 when not given). */
  retries?: number
}

/** Configuration deployments: made by deviceconfig for one device, with the configuration inside. */
export function createConfigurationApi(parts: {
  store: Pick<DeploymentsStore, 'createConfigurationDeployment'>
  clock: Clock
}) {
  const { store, clock } = parts
  return {
    /** Makes the configuration deployment; 409 when a deployment with that id exists. */
    async createConfigurationDeployment(
      tenantId: string,
      input: ConfigurationDeploymentInput,
    ): Promise<void> {
      const row: DeploymentRow = {
        id: input.deploymentId,
        tenantId,
        name: input.name,
        artifactName: input.name,
        created: clock.now(),
        finished: null,
        status: 'pending',
        deviceCount: 0,
        maxDevices: 1,
        allDevices: false,
        forceInstallation: false,
        artifacts: [],
        groups: [],
        target: 'devices',
        // Each configuration deployment is its own: no two are ever "the same parameters".
        checksum: `configuration:${input.deploymentId}`,
        totalSize: 0,
        type: 'configuration',
        configuration: input.configuration,
        ...statValues({ ...emptyStats(), pending: 1 }),
        phaseCount: 0,
        openPhases: 1,
        retries: input.retries ?? 0,
        policy: null,
        pausedAt: null,
        pauseReason: null,
        gateTripped: false,
        dynamic: false,
        filter: null,
        initialDeviceCount: 1,
      }
      if (!(await store.createConfigurationDeployment(row, input.deviceId))) {
        throw new ConflictError('Deployment with given ID already exists')
      }
    },
  }
}
