import { Elysia } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { InventoryModel as M } from './model.ts'
import type { InventoryService } from './service.ts'

const detail = { tags: ['inventory'] }

/** The device's own inventory report; both methods answer 200 with an empty body, as clients expect. */
export const inventoryDeviceRoutes = (svc: InventoryService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/devices/v1/inventory', detail })
    .use(auth)
    .put(
      '/device/attributes',
      async ({ device, body }) => {
        await svc.updateInventory(device.tenantId, device.deviceId, body, 'replace')
        return ''
      },
      { device: true, body: M.attributesInput, detail: { summary: 'Replace the inventory attributes' } },
    )
    .patch(
      '/device/attributes',
      async ({ device, body }) => {
        await svc.updateInventory(device.tenantId, device.deviceId, body, 'merge')
        return ''
      },
      { device: true, body: M.attributesInput, detail: { summary: 'Add or update inventory attributes' } },
    )
