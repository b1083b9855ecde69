import { index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { int, json, ms } from '../../../db/pg-columns.ts'
import type { EventType } from '../../events/model.ts'
import type { DeliveryState } from './model.ts'

/** iot-manager's tables on PostgreSQL (see tables.ts). */
export const integrations = pgTable(
  'iot_manager_integrations',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    provider: text().$type<'webhook'>().notNull(),
    url: text().notNull(),
    secret: text(),
    description: text().notNull().default(''),
    eventTypes: json().$type<EventType[]>().notNull(),
    createdTs: ms().notNull(),
  },
  (t) => [uniqueIndex('iot_manager_integrations_tenant').on(t.tenantId)],
)

export const webhookEvents = pgTable(
  'iot_manager_events',
  {
    id: text().primaryKey(),
    seq: int().notNull(),
    tenantId: text().notNull().default(''),
    type: text().$type<EventType>().notNull(),
    data: json().$type<Record<string, unknown>>().notNull(),
    time: ms().notNull(),
  },
  (t) => [
    index('iot_manager_events_tenant').on(t.tenantId, t.seq),
    index('iot_manager_events_time').on(t.time),
  ],
)

export const deliveries = pgTable(
  'iot_manager_deliveries',
  {
    eventId: text()
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    integrationId: text().notNull(),
    tenantId: text().notNull().default(''),
    seq: int().notNull(),
    subject: text().notNull(),
    state: text().$type<DeliveryState>().notNull(),
    attempts: int().notNull().default(0),
    nextAttemptTs: ms().notNull(),
    statusCode: int(),
    error: text(),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.integrationId] }),
    index('iot_manager_deliveries_pending').on(t.state, t.integrationId, t.subject, t.seq),
    index('iot_manager_deliveries_integration').on(t.integrationId, t.seq),
  ],
)
