import { index, pgTable, text } from 'drizzle-orm/pg-core'
import { int, json, ms } from '../../db/pg-columns.ts'
import type { EventType } from './model.ts'

/**
 * The outbox on PostgreSQL (see tables.ts). An identity never hands out a number twice; commit
 * order is made seq order by the writers, which take one transaction-scoped advisory lock before
 * appending (see outbox.pg.ts).
 */
export const outboxEvents = pgTable(
  'events_outbox',
  {
    seq: int().primaryKey().generatedAlwaysAsIdentity(),
    id: text().notNull(),
    tenantId: text().notNull().default(''),
    type: text().$type<EventType>().notNull(),
    subject: text().notNull(),
    data: json().$type<Record<string, unknown>>().notNull(),
    time: ms().notNull(),
  },
  (t) => [index('events_outbox_time').on(t.time)],
)

export const eventCursors = pgTable('events_cursors', {
  name: text().primaryKey(),
  seq: int().notNull(),
})
