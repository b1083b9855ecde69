import type { EventsService } from '../../events/service.ts'
import type { DeviceconfigService } from './service.ts'

/**
 * Mender's provision and decommission workflows for deviceconfig, as in-process calls: a device
 * accepted gets its configuration, a decommissioned one loses it. Driven by deviceauth's committed
 * events through a durable subscription, so a call is never made for a change that rolled back,
 * and one interrupted by a crash is made again at the next start (both calls are idempotent).
 */
export function followDeviceLifecycle(
  events: Pick<EventsService, 'subscribeDurable'>,
  deviceconfig: Pick<DeviceconfigService, 'provisionDevice' | 'decommissionDevice'>,
): () => void {
  return events.subscribeDurable('deviceconfig', async (event) => {
    if (event.type === 'device-provisioned') await deviceconfig.provisionDevice(event.tenantId, event.subject)
    else if (event.type === 'device-decommissioned') {
      await deviceconfig.decommissionDevice(event.tenantId, event.subject)
    }
  })
}
