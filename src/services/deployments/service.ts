import { join } from 'node:path'
import type { Deps } from '../../deps.ts'
import { createConfigurationArtifacts } from './configuration.ts'
import { createSelection } from './selection.ts'
import { createConfigurationApi } from './service.configurations.ts'
import { createDeviceApi } from './service.devices.ts'
import { createManagementApi, type DeploymentsInventory } from './service.management.ts'
import { createArtifactsStore } from './store.artifacts.ts'
import { createDeviceDeploymentsStore } from './store.devices.ts'
import { createDeploymentsStore } from './store.ts'
import { createTransitions } from './transitions.ts'

/** Deployments: rolling artifacts out to devices and tracking each device to an end state. */
export function createDeploymentsService(deps: Deps, services: { inventory: DeploymentsInventory }) {
  const store = createDeploymentsStore(deps.db)
  const devices = createDeviceDeploymentsStore(deps.db)
  const artifacts = createArtifactsStore(deps.db)
  const transitions = createTransitions(store, devices, deps.clock, deps.ids)
  const selectDeployment = createSelection({ store, devices, artifacts, transitions })

  return {
    ...createManagementApi({
      store,
      devices,
      artifacts,
      transitions,
      inventory: services.inventory,
      clock: deps.clock,
      ids: deps.ids,
    }),
    ...createDeviceApi({
      store,
      devices,
      transitions,
      selectDeployment,
      links: deps.links,
      configurations: createConfigurationArtifacts({
        blobs: deps.blobs,
        links: deps.links,
        tempDir: join(deps.config.dataDir, 'tmp'),
      }),
    }),
    ...createConfigurationApi({ store, clock: deps.clock }),

    // --- for the artifacts and releases API (DeploymentUsage): synchronous, on the same database ---

    /** Ids of the unfinished deployments of any of these artifact names (their artifacts stay). */
    activeDeploymentIds: (tenantId: string, artifactNames: readonly string[]): string[] =>
      store.activeDeploymentIds(tenantId, artifactNames),

    /** Whether any deployment, finished or not, deployed artifacts of this name. */
    isNameInAnyDeployment: (tenantId: string, artifactName: string): boolean =>
      store.usesArtifactName(tenantId, artifactName),
  }
}

export type DeploymentsService = ReturnType<typeof createDeploymentsService>
