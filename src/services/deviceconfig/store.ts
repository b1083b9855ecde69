import { and, eq, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import type { Attributes, DeviceConfiguration } from './model.ts'
import { deviceConfigurations as devices } from './tables.ts'

/** Where deviceconfig keeps each device's configuration. */
export interface DeviceconfigStore {
  /** Adds the device with nothing configured or reported; a device already there stays as it is. */
  insertDevice(tenantId: string, id: string, at: Date): Promise<void>
  /** Deletes the device; false when there was none. */
  deleteDevice(tenantId: string, id: string): Promise<boolean>
  /** The device's configuration, undefined when it has none. */
  findDevice(tenantId: string, id: string): Promise<DeviceConfiguration | undefined>
  /** Replaces what is configured (adding the device when missing) and sets `updatedTs`. */
  replaceConfigured(tenantId: string, id: string, configured: Attributes, at: Date): Promise<void>
  /** Replaces what the device reported (adding the device when missing) and sets `reportedTs`. */
  replaceReported(tenantId: string, id: string, reported: Attributes, at: Date): Promise<void>
  /** Records the device's latest configuration deployment; false when the device has no row. */
  setDeploymentId(tenantId: string, id: string, deploymentId: string): Promise<boolean>
  /** Deletes every device of the tenant; answers how many. */
  deleteTenant(tenantId: string): Promise<number>
}

/** A device's row with nothing configured or reported (either engine's tables take it). */
export const emptyConfiguration = (tenantId: string, id: string, at: Date) => ({
  tenantId,
  id,
  configured: {},
  reported: {},
  deploymentId: null,
  updatedTs: at,
  reportedTs: null,
})

export function createDeviceconfigStore(db: Database): DeviceconfigStore {
  const ph = sql.placeholder
  const byId = preparedOnFirstUse(() =>
    db
      .select()
      .from(devices)
      .where(and(eq(devices.tenantId, ph('tenantId')), eq(devices.id, ph('id'))))
      .prepare(),
  )
  const where = (tenantId: string, id: string) => and(eq(devices.tenantId, tenantId), eq(devices.id, id))

  return {
    async insertDevice(tenantId, id, at) {
      db.insert(devices)
        .values(emptyConfiguration(tenantId, id, at))
        .onConflictDoNothing()
        .run()
    },

    deleteDevice: async (tenantId, id) =>
      db.delete(devices).where(where(tenantId, id)).returning({ id: devices.id }).all().length > 0,

    findDevice: async (tenantId, id) => byId.get({ tenantId, id }),

    async replaceConfigured(tenantId, id, configured, at) {
      db.insert(devices)
        .values({ ...emptyConfiguration(tenantId, id, at), configured })
        .onConflictDoUpdate({ target: [devices.tenantId, devices.id], set: { configured, updatedTs: at } })
        .run()
    },

    async replaceReported(tenantId, id, reported, at) {
      db.insert(devices)
        .values({ ...emptyConfiguration(tenantId, id, at), reported, reportedTs: at })
        .onConflictDoUpdate({ target: [devices.tenantId, devices.id], set: { reported, reportedTs: at } })
        .run()
    },

    setDeploymentId: async (tenantId, id, deploymentId) =>
      db.update(devices).set({ deploymentId }).where(where(tenantId, id)).returning({ id: devices.id }).all()
        .length > 0,

    deleteTenant: async (tenantId) =>
      db.delete(devices).where(eq(devices.tenantId, tenantId)).returning({ id: devices.id }).all().length,
  }
}
