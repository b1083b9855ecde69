import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/**
 * One row per provisioned device: what an operator configured, what the device last reported, and
 * the latest configuration deployment. A device gets its row when accepted and loses it when
 * decommissioned; an operator's or the device's write makes one too, as in Mender.
 */
export const deviceConfigurations = sqliteTable(
  'deviceconfig_devices',
  {
    tenantId: text().notNull().default(''),
    id: text().notNull(),
    configured: text({ mode: 'json' }).$type<Record<string, string>>().notNull(),
    reported: text({ mode: 'json' }).$type<Record<string, string>>().notNull(),
    deploymentId: text(),
    updatedTs: integer({ mode: 'timestamp_ms' }).notNull(),
    reportedTs: integer({ mode: 'timestamp_ms' }),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
)
