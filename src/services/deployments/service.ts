import type { Deps } from '../../deps.ts'
import { createSelection } from './selection.ts'
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
    ...createDeviceApi({ store, devices, transitions, selectDeployment, links: deps.links }),

    // --- for the artifacts API: synchronous, on the same database ---

    /** Whether an unfinished deployment deploys artifacts of this name (they may not be deleted then). */
    isArtifactNameInActiveDeployment: (tenantId: string, name: string): boolean =>
      store.usesArtifactName(tenantId, name, true),

    /** Whether any deployment, finished or not, deployed artifacts of this name. */
    isArtifactNameInAnyDeployment: (tenantId: string, name: string): boolean =>
      store.usesArtifactName(tenantId, name, false),
  }
}

export type DeploymentsService = ReturnType<typeof createDeploymentsService>
