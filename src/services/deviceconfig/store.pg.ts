import { and, eq, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { type DeviceconfigStore, emptyConfiguration } from './store.ts'
import { deviceConfigurations as devices } from './tables.pg.ts'

/** deviceconfig's store on PostgreSQL (see store.ts for what each method promises). */
export function createPgDeviceconfigStore(db: PgDatabase): DeviceconfigStore {
  const ph = sql.placeholder
  const byId = db
    .select()
    .from(devices)
    .where(and(eq(devices.tenantId, ph('tenantId')), eq(devices.id, ph('id'))))
    .prepare('deviceconfig_by_id')
  const where = (tenantId: string, id: string) => and(eq(devices.tenantId, tenantId), eq(devices.id, id))
  const key = [devices.tenantId, devices.id]

  return {
    async insertDevice(tenantId, id, at) {
      await db
        .insert(devices)
        .values(emptyConfiguration(tenantId, id, at))
        .onConflictDoNothing()
    },

    deleteDevice: async (tenantId, id) =>
      (await db.delete(devices).where(where(tenantId, id)).returning({ id: devices.id })).length > 0,

    findDevice: async (tenantId, id) => (await byId.execute({ tenantId, id }))[0],

    async replaceConfigured(tenantId, id, configured, at) {
      await db
        .insert(devices)
        .values({ ...emptyConfiguration(tenantId, id, at), configured })
        .onConflictDoUpdate({ target: key, set: { configured, updatedTs: at } })
    },

    async replaceReported(tenantId, id, reported, at) {
      await db
        .insert(devices)
        .values({ ...emptyConfiguration(tenantId, id, at), reported, reportedTs: at })
        .onConflictDoUpdate({ target: key, set: { reported, reportedTs: at } })
    },

    setDeploymentId: async (tenantId, id, deploymentId) =>
      (
        await db
          .update(devices)
          .set({ deploymentId })
          .where(where(tenantId, id))
          .returning({ id: devices.id })
      ).length > 0,

    deleteTenant: async (tenantId) =>
      (await db.delete(devices).where(eq(devices.tenantId, tenantId)).returning({ id: devices.id })).length,
  }
}
