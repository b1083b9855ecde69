import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import type { Deps } from './deps.ts'
import { authPlugin } from './gateway/auth.ts'
import { gateway } from './gateway/gateway.ts'
import { healthRoutes } from './gateway/health.ts'
import { createRouteIndex } from './gateway/routes.ts'
import { deviceauthDeviceRoutes } from './services/deviceauth/routes.devices.ts'
import { deviceauthInternalRoutes } from './services/deviceauth/routes.internal.ts'
import { deviceauthManagementRoutes } from './services/deviceauth/routes.management.ts'
import { createDeviceauthService } from './services/deviceauth/service.ts'
import { inventoryDeviceRoutes } from './services/inventory/routes.devices.ts'
import {
  inventoryManagementRoutes,
  inventoryManagementV2Routes,
} from './services/inventory/routes.management.ts'
import { createInventoryService } from './services/inventory/service.ts'
import { useradmInternalRoutes } from './services/useradm/routes.internal.ts'
import { useradmManagementRoutes, useradmManagementV2Routes } from './services/useradm/routes.management.ts'
import { createUseradmService } from './services/useradm/service.ts'
import { VERSION } from './version.ts'

export type Services = ReturnType<typeof createServices>

/** Every service, built once; cross-service calls go one way (deviceauth -> inventory, deployments). */
export function createServices(deps: Deps) {
  const useradm = createUseradmService(deps)
  const inventory = createInventoryService(deps)
  const deviceauth = createDeviceauthService(deps, { inventory })
  return { useradm, inventory, deviceauth }
}

/** The API app: gateway plugins first (so their error handler covers every route), then each service. */
export function createApp(deps: Deps, services: Services = createServices(deps)) {
  const routes = createRouteIndex()
  const auth = authPlugin(
    { user: services.useradm.authenticator, device: services.deviceauth.authenticator },
    () => deps.clock.now().getTime(),
  )
  const app = new Elysia()
    .use(gateway(deps.log, routes))
    .use(
      openapi({
        path: '/api/docs',
        specPath: '/api/docs/json',
        documentation: {
          info: {
            title: 'bender',
            version: VERSION,
            description:
              'A Mender-compatible OTA update server: Mender’s device, management and internal APIs.',
          },
        },
      }),
    )
    .use(useradmManagementRoutes(services.useradm, auth))
    .use(useradmManagementV2Routes(services.useradm, auth))
    .use(useradmInternalRoutes(auth))
    .use(deviceauthDeviceRoutes(services.deviceauth))
    .use(deviceauthManagementRoutes(services.deviceauth, auth))
    .use(deviceauthInternalRoutes(auth))
    .use(inventoryDeviceRoutes(services.inventory, auth))
    .use(inventoryManagementRoutes(services.inventory, auth))
    .use(inventoryManagementV2Routes(services.inventory, auth))
  for (const service of ['useradm', 'devauth', 'inventory', 'deployments'])
    app.use(healthRoutes(service, deps.db))
  routes.load(app.routes)
  return app
}

export type App = ReturnType<typeof createApp>
