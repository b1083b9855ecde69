import type { Clock } from '../../clock.ts'
import { ConflictError } from '../../gateway/errors.ts'
import { emptyStats } from './status.ts'
import { type DeploymentRow, type DeploymentsStore, statValues } from './store.ts'

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
export function createConfigurationApi(parts: { store: DeploymentsStore; clock: Clock }) {
  const { store, clock } = parts
  return {
    /** Makes the configuration deployment; 409 when a deployment with that id exists. */
    createConfigurationDeployment(tenantId: string, input: ConfigurationDeploymentInput): void {
      store.transaction(() => {
        if (store.findDeployment(tenantId, input.deploymentId)) {
          throw new ConflictError('Deployment with given ID already exists')
        }
        const now = clock.now().getTime()
        const latest = store.latestCreated(tenantId)?.getTime() ?? 0
        const row: DeploymentRow = {
          id: input.deploymentId,
          tenantId,
          name: input.name,
          artifactName: input.name,
          created: new Date(Math.max(now, latest + 1)),
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
        store.insertDeployment(row, [input.deviceId])
      })
    },
  }
}
