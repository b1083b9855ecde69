import { Elysia } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { DeviceconfigModel as M } from './model.ts'
import type { DeviceconfigService } from './service.ts'

const detail = { tags: ['deviceconfig'] }

/** The device's side: what it should run, and what it runs (the mender-configure add-on calls both). */
export const deviceconfigDeviceRoutes = (svc: DeviceconfigService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/devices/v1/deviceconfig', detail })
    .use(auth)
    .get('/configuration', ({ device }) => svc.configuredFor(device.tenantId, device.deviceId), {
      device: true,
      response: { 200: M.attributes },
      detail: { summary: 'The configuration the device should run; 404 when it has none' },
    })
    .put(
      '/configuration',
      async ({ device, body, set }) => {
        await svc.reportConfiguration(device.tenantId, device.deviceId, body)
        set.status = 204
      },
      { device: true, body: M.attributes, detail: { summary: 'Report the configuration the device runs' } },
    )
