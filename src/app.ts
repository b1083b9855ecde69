import { type AnyElysia, Elysia } from 'elysia'
import { type Cluster, localCluster } from './cluster/cluster.ts'
import { type ConsoleBundle, loadConsole } from './console/bundle.ts'
import { consoleEventRoutes } from './console/routes.events.ts'
import { consoleRoutes } from './console/routes.ts'
import type { Deps } from './deps.ts'
import { createEventsService, type EventsService } from './events/service.ts'
import { authPlugin } from './gateway/auth.ts'
import { apiDocs } from './gateway/docs.ts'
import { NotFoundError } from './gateway/errors.ts'
import { gateway } from './gateway/gateway.ts'
import { healthRoutes } from './gateway/health.ts'
import { createRouteIndex } from './gateway/routes.ts'
import {
  artifactsManagementRoutes,
  artifactsManagementV2Routes,
} from './services/artifacts/routes.management.ts'
import {
  releasesManagementRoutes,
  releasesManagementV2Routes,
  softwareManagementRoutes,
} from './services/artifacts/routes.releases.ts'
import { createReleasesService, type ReleasesService } from './services/artifacts/service.releases.ts'
import {
  type ArtifactsService,
  createArtifactsService,
  type DeploymentUsage,
} from './services/artifacts/service.ts'
import { deploymentsDeviceRoutes } from './services/deployments/routes.devices.ts'
import {
  deploymentsManagementRoutes,
  deploymentsManagementV2Routes,
} from './services/deployments/routes.management.ts'
import { createDeploymentsService, type DeploymentsService } from './services/deployments/service.ts'
import { deviceauthDeviceRoutes } from './services/deviceauth/routes.devices.ts'
import { deviceauthInternalRoutes } from './services/deviceauth/routes.internal.ts'
import { deviceauthManagementRoutes } from './services/deviceauth/routes.management.ts'
import { createDeviceauthService, type DeviceauthService } from './services/deviceauth/service.ts'
import { followDeviceLifecycle } from './services/deviceconfig/lifecycle.ts'
import { deviceconfigDeviceRoutes } from './services/deviceconfig/routes.devices.ts'
import { deviceconfigInternalRoutes } from './services/deviceconfig/routes.internal.ts'
import { deviceconfigManagementRoutes } from './services/deviceconfig/routes.management.ts'
import { createDeviceconfigService, type DeviceconfigService } from './services/deviceconfig/service.ts'
import { deviceconnectDeviceRoutes } from './services/deviceconnect/routes.devices.ts'
import { deviceconnectInternalRoutes } from './services/deviceconnect/routes.internal.ts'
import { deviceconnectManagementRoutes } from './services/deviceconnect/routes.management.ts'
import { createDeviceconnectService, type DeviceconnectService } from './services/deviceconnect/service.ts'
import { inventoryDeviceRoutes } from './services/inventory/routes.devices.ts'
import {
  inventoryManagementRoutes,
  inventoryManagementV2Routes,
} from './services/inventory/routes.management.ts'
import { createInventoryService, type InventoryService } from './services/inventory/service.ts'
import { iotManagerInternalRoutes } from './services/iot-manager/routes.internal.ts'
import { iotManagerManagementRoutes } from './services/iot-manager/routes.management.ts'
import { createIotManagerService, type IotManagerService } from './services/iot-manager/service.ts'
import { useradmInternalRoutes } from './services/useradm/routes.internal.ts'
import { useradmManagementRoutes, useradmManagementV2Routes } from './services/useradm/routes.management.ts'
import { organizationRoutes } from './services/useradm/routes.organization.ts'
import { useradmSetupRoutes } from './services/useradm/routes.setup.ts'
import { createUseradmService, type UseradmService } from './services/useradm/service.ts'
import { createFirstRunSetup, type FirstRunSetup } from './services/useradm/setup.ts'

/** Every service of the app, each known by its interface. */
export type Services = {
  events: EventsService
  useradm: UseradmService
  setup: FirstRunSetup
  inventory: InventoryService
  deployments: DeploymentsService
  deviceauth: DeviceauthService
  artifacts: ArtifactsService
  releases: ReleasesService
  deviceconnect: DeviceconnectService
  deviceconfig: DeviceconfigService
  iotManager: IotManagerService
  /** What instances share: background jobs' leases, the login throttle, deviceconnect's relay. */
  cluster: Cluster
  /** Ends the in-process workflows that follow events. */
  stopWorkflows(): void
}

/**
 * Decommissioning deletes the device in deviceauth (with its `device-decommissioned` event) and
 * then calls inventory and deployments. Each of them also follows that event with a durable
 * subscription repeating its part, which is idempotent: should the process stop between
 * deviceauth's commit and their writes, they catch up at the next start.
 */
function followDecommissions(
  events: EventsService,
  inventory: Pick<InventoryService, 'removeDevice'>,
  deployments: Pick<DeploymentsService, 'markDeviceDecommissioned'>,
): () => void {
  const follow = (name: string, remove: (tenantId: string, deviceId: string) => unknown) =>
    events.subscribeDurable(name, async (event) => {
      if (event.type === 'device-decommissioned' && event.subject) await remove(event.tenantId, event.subject)
    })
  const stops = [
    follow('inventory.decommission', (tenantId, id) => inventory.removeDevice(tenantId, id)),
    follow('deployments.decommission', (tenantId, id) => deployments.markDeviceDecommissioned(tenantId, id)),
  ]
  return () => {
    for (const stop of stops) stop()
  }
}

/** Whether deviceauth knows a device, for services that only hold device ids. */
function deviceExistence(deviceauth: Pick<DeviceauthService, 'getDevice'>) {
  return {
    async exists(tenantId: string, deviceId: string): Promise<boolean> {
      try {
        await deviceauth.getDevice(tenantId, deviceId)
        return true
      } catch (err) {
        if (err instanceof NotFoundError) return false
        throw err
      }
    },
  }
}

/**
 * Every service, built once. Calls go deviceauth -> inventory, deployments; deployments ->
 * inventory, artifacts; artifacts -> deployments (which deployments use an artifact).
 */
export function createServices(deps: Deps, cluster: Cluster = localCluster()): Services {
  const { leases } = cluster
  // First: it gives the outbox the app's clock before any store writes an event.
  const events = createEventsService(deps, deps.stores.events, leases)
  const useradm = createUseradmService(deps, { loginThrottle: cluster.loginThrottle })
  const setup = createFirstRunSetup(deps, { useradm })
  const inventory = createInventoryService(deps)
  // Artifacts and deployments know each other: artifacts asks which deployments use a name,
  // deployments asks for the artifacts of a name. Artifacts is built first, reaching deployments
  // only when called.
  const usage: DeploymentUsage = {
    activeDeploymentIds: async (tenantId, names) => deployments.activeDeploymentIds(tenantId, names),
    isNameInAnyDeployment: async (tenantId, name) => deployments.isNameInAnyDeployment(tenantId, name),
  }
  const artifacts = createArtifactsService(deps, { usage })
  const releases = createReleasesService(deps, { usage })
  const deployments = createDeploymentsService(deps, { inventory, artifacts, leases })
  // Devices that change are matched against dynamic deployments when they change, never per poll.
  inventory.onDeviceChanged((tenantId, deviceId) => deployments.deviceChanged(tenantId, deviceId))
  // Device tokens are deviceauth's; read when a session opens, after both exist.
  const deviceconnect = createDeviceconnectService(deps, {
    deviceTokens: { isLive: (device) => deviceauth.authenticator.isLive(device) },
    leases,
    relay: cluster.relay,
  })
  const deviceauth = createDeviceauthService(deps, {
    inventory,
    deployments,
    // Mender's provision and decommission workflows for deviceconnect, as plain calls.
    workflows: {
      deviceAccepted: (tenantId, deviceId) => deviceconnect.provisionDevice(tenantId, deviceId),
      deviceRemoved: (tenantId, deviceId) => deviceconnect.removeDevice(tenantId, deviceId),
    },
  })
  const deviceconfig = createDeviceconfigService(deps, { deployments })
  const stopLifecycle = followDeviceLifecycle(events, deviceconfig)
  const stopDecommissions = followDecommissions(events, inventory, deployments)
  const iotManager = createIotManagerService(deps, { events, devices: deviceExistence(deviceauth), leases })
  return {
    ...{ events, useradm, setup, inventory, deployments, deviceauth, artifacts, releases },
    ...{ deviceconnect, deviceconfig, iotManager, cluster },
    stopWorkflows: () => {
      stopLifecycle()
      stopDecommissions()
      iotManager.stop()
    },
  }
}

/**
 * Stops the services' background work, writing what they buffer: deviceauth's check-ins go to
 * inventory too, so deviceauth stops first. Call before closing the database.
 */
export async function stopServices(services: Services): Promise<void> {
  await services.artifacts.stop()
  services.deviceconnect.stop()
  await services.deviceauth.stop()
  services.inventory.stop()
  services.deployments.stop()
  services.stopWorkflows()
  await services.events.stop()
  await services.cluster.close()
}

/** The API app: gateway plugins first (so their error handler covers every route), then each service. */
export function createApp(
  deps: Deps,
  services: Services,
  consoleBundle: () => Promise<ConsoleBundle> = loadConsole,
) {
  const routes = createRouteIndex()
  const auth = authPlugin(
    { user: services.useradm.authenticator, device: services.deviceauth.authenticator },
    () => deps.clock.now().getTime(),
  )
  const app = new Elysia()
    .use(
      gateway(deps.log, routes, {
        tls: deps.config.tlsCert !== undefined,
        bodyTimeoutMs: deps.config.bodyTimeoutSeconds * 1000,
      }),
    )
    // Read at request time, when the chain below has made the whole app.
    .use(apiDocs((): AnyElysia => app))
    .use(consoleRoutes(deps.config, consoleBundle))
    .use(useradmSetupRoutes(services.setup))
    .use(consoleEventRoutes(services.events, services.useradm.authenticator.isLive, auth))
    .use(useradmManagementRoutes(services.useradm, auth, deps.config.trustedProxies))
    .use(useradmManagementV2Routes(services.useradm, auth))
    .use(organizationRoutes(auth, 'bender'))
    .use(useradmInternalRoutes(auth))
    .use(deviceauthDeviceRoutes(services.deviceauth, deps.config.bodyTimeoutSeconds * 1000))
    .use(deviceauthManagementRoutes(services.deviceauth, auth))
    .use(deviceauthInternalRoutes(auth))
    .use(inventoryDeviceRoutes(services.inventory, auth))
    .use(inventoryManagementRoutes(services.inventory, auth))
    .use(inventoryManagementV2Routes(services.inventory, auth))
    .use(deploymentsDeviceRoutes(services.deployments, auth))
    .use(deploymentsManagementRoutes(services.deployments, auth))
    .use(deploymentsManagementV2Routes(services.deployments, auth))
    .use(artifactsManagementRoutes(services.artifacts, auth, deps.config.maxArtifactSize))
    .use(artifactsManagementV2Routes(services.artifacts, auth))
    .use(releasesManagementRoutes(services.releases, auth))
    .use(releasesManagementV2Routes(services.releases, auth))
    .use(softwareManagementRoutes(services.releases, auth))
    .use(deviceconnectDeviceRoutes(services.deviceconnect, auth))
    .use(deviceconnectManagementRoutes(services.deviceconnect, auth))
    .use(deviceconnectInternalRoutes(services.deviceconnect, auth))
    .use(deviceconfigDeviceRoutes(services.deviceconfig, auth))
    .use(deviceconfigManagementRoutes(services.deviceconfig, auth))
    .use(deviceconfigInternalRoutes(services.deviceconfig, auth))
    .use(iotManagerManagementRoutes(services.iotManager, auth))
    .use(iotManagerInternalRoutes(services.iotManager, auth))
  for (const service of [
    'useradm',
    'devauth',
    'inventory',
    'deployments',
    'deviceconnect',
    'deviceconfig',
    'iot-manager',
  ])
    app.use(healthRoutes(service, deps))
  routes.load(app.routes)
  return app
}

export type App = ReturnType<typeof createApp>
