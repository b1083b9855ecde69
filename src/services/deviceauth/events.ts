import { and, eq } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { outboxFor } from '../../events/outbox.ts'
import type { DeviceStatus } from './model.ts'
import { authSets, devices } from './tables.ts'

/**
 * The device events deviceauth's store writes with its changes, in Mender's iot-manager shapes:
 * a status change carries the id and new status; acceptance also provisions the device (the whole
 * device with its accepted auth set); decommissioning carries the id only.
 */
export function createDeviceEvents(db: Database) {
  const outbox = outboxFor(db)

  function provisioned(tenantId: string, id: string, at: Date): void {
    const device = db
      .select()
      .from(devices)
      .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
      .get()
    if (!device) return
    const identity = JSON.parse(device.identity) as Record<string, unknown>
    const accepted = db
      .select()
      .from(authSets)
      .where(and(eq(authSets.tenantId, tenantId), eq(authSets.deviceId, id), eq(authSets.status, 'accepted')))
      .all()
    outbox.append({
      tenantId,
      type: 'device-provisioned',
      subject: id,
      time: at,
      data: {
        id,
        status: 'accepted',
        auth_sets: accepted.map((set) => ({
          id: set.id,
          device_id: id,
          identity_data: identity,
          pubkey: set.pubkey,
          status: set.status,
          ts: set.createdTs.toISOString(),
        })),
        created_ts: device.createdTs.toISOString(),
      },
    })
  }

  return {
    /** After a device's status was rewritten: provisioned first when it became accepted, then the change. */
    statusChanged(tenantId: string, id: string, status: DeviceStatus, at: Date): void {
      if (status === 'accepted') provisioned(tenantId, id, at)
      outbox.append({ tenantId, type: 'device-status-changed', subject: id, time: at, data: { id, status } })
    },

    /** After a device was deleted. */
    decommissioned(tenantId: string, id: string): void {
      outbox.append({ tenantId, type: 'device-decommissioned', subject: id, data: { id } })
    },
  }
}
