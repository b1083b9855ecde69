import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { EventType } from '../../events/model.ts'
import type { DeliveryState } from './model.ts'

/**
 * Integrations: where events are sent. Only the webhook provider is served; one integration per
 * tenant, as in Mender. `eventTypes` is bender's own: which events this webhook wants.
 */
export const integrations = sqliteTable(
  'iot_manager_integrations',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    provider: text().$type<'webhook'>().notNull(),
    url: text().notNull(),
    /** Hex, as given; its decoded bytes are the HMAC key. */
    secret: text(),
    description: text().notNull().default(''),
    eventTypes: text({ mode: 'json' }).$type<EventType[]>().notNull(),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('iot_manager_integrations_tenant').on(t.tenantId)],
)

/** The events some integration wanted, kept (with their deliveries) for `GET /events` until retention ends. */
export const webhookEvents = sqliteTable(
  'iot_manager_events',
  {
    /** The outbox event's id: an event is recorded once however often the outbox hands it over. */
    id: text().primaryKey(),
    seq: integer().notNull(),
    tenantId: text().notNull().default(''),
    type: text().$type<EventType>().notNull(),
    data: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    time: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    index('iot_manager_events_tenant').on(t.tenantId, t.seq),
    index('iot_manager_events_time').on(t.time),
  ],
)

/**
 * One event to one integration, sent until the receiver answers 2xx or the attempts run out.
 * `subject` (the device or deployment) keeps order: only the oldest unfinished delivery of a
 * subject to an integration is ever attempted.
 */
export const deliveries = sqliteTable(
  'iot_manager_deliveries',
  {
    eventId: text()
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    integrationId: text().notNull(),
    tenantId: text().notNull().default(''),
    seq: integer().notNull(),
    subject: text().notNull(),
    state: text().$type<DeliveryState>().notNull(),
    attempts: integer().notNull().default(0),
    nextAttemptTs: integer({ mode: 'timestamp_ms' }).notNull(),
    statusCode: integer(),
    error: text(),
  },
  (t) => [
    primaryKey({ columns: [t.eventId, t.integrationId] }),
    index('iot_manager_deliveries_pending').on(t.state, t.integrationId, t.subject, t.seq),
    index('iot_manager_deliveries_integration').on(t.integrationId, t.seq),
  ],
)
