import { pgTable, primaryKey, text } from 'drizzle-orm/pg-core'
import { json, ms } from '../../../db/pg-columns.ts'

/** deviceconfig's table on PostgreSQL (see tables.ts). */
export const deviceConfigurations = pgTable(
  'deviceconfig_devices',
  {
    tenantId: text().notNull().default(''),
    id: text().notNull(),
    configured: json().$type<Record<string, string>>().notNull(),
    reported: json().$type<Record<string, string>>().notNull(),
    deploymentId: text(),
    updatedTs: ms().notNull(),
    reportedTs: ms(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
)
