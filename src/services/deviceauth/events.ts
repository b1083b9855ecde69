import { and, eq } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import type { NewEvent } from '../../events/model.ts'
import { outboxFor } from '../../events/outbox.ts'
import type { DeviceStatus } from './model.ts'
import { authSets, devices } from './tables.ts'

type DeviceEvent = Omit<NewEvent, 'time'> & { time?: Date }
type Device = typeof devices.$inferSelect
type AuthSet = typeof authSets.$inferSelect

/**
 * The device events deviceauth's stores write with their changes, in Mender's iot-manager shapes:
 * a status change carries the id and new status; acceptance also provisions the device (the whole
 * device with its accepted auth sets); decommissioning carries the id only. Shared by both engines.
 */
export const deviceEvents = {
  provisioned(device: Device, accepted: readonly AuthSet[], at: Date): DeviceEvent {
    const { tenantId, id } = device
    const identity = JSON.parse(device.identity) as Record<string, unknown>
    return {
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
    }
  },

  statusChanged: (tenantId: string, id: string, status: DeviceStatus, at: Date): DeviceEvent => ({
    tenantId,
    type: 'device-status-changed',
    subject: id,
    time: at,
    data: { id, status },
  }),

  decommissioned: (tenantId: string, id: string): DeviceEvent => ({
    tenantId,
    type: 'device-decommissioned',
    subject: id,
    data: { id },
  }),
}

/** The device events on SQLite, appended to the outbox in the caller's transaction. */
export function createDeviceEvents(db: Database) {
  const outbox = outboxFor(db)

  function provisioned(tenantId: string, id: string, at: Date): void {
    const device = db
      .select()
      .from(devices)
      .where(and(eq(devices.tenantId, tenantId), eq(devices.id, id)))
      .get()
    if (!device) return
    const accepted = db
      .select()
      .from(authSets)
      .where(and(eq(authSets.tenantId, tenantId), eq(authSets.deviceId, id), eq(authSets.status, 'accepted')))
      .all()
    outbox.append(deviceEvents.provisioned(device, accepted, at))
  }

  return {
    /** After a device's status was rewritten: provisioned first when it became accepted, then the change. */
    statusChanged(tenantId: string, id: string, status: DeviceStatus, at: Date): void {
      if (status === 'accepted') provisioned(tenantId, id, at)
      outbox.append(deviceEvents.statusChanged(tenantId, id, status, at))
    },

    /** After a device was deleted. */
    decommissioned(tenantId: string, id: string): void {
      outbox.append(deviceEvents.decommissioned(tenantId, id))
    },
  }
}
