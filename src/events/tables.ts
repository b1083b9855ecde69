import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import type { EventType } from './model.ts'

/**
 * The outbox: one row per event, inserted in the same transaction as the change it reports, so an
 * event exists exactly when its change committed. AUTOINCREMENT keeps `seq` growing and never
 * hands out a pruned number again; SQLite's single writer makes seq order the commit order.
 */
export const outboxEvents = sqliteTable(
  'events_outbox',
  {
    seq: integer().primaryKey({ autoIncrement: true }),
    id: text().notNull(),
    tenantId: text().notNull().default(''),
    type: text().$type<EventType>().notNull(),
    subject: text().notNull(),
    data: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    time: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('events_outbox_time').on(t.time)],
)

/** How far each durable subscriber got: it resumes after `seq` when the process starts again. */
export const eventCursors = sqliteTable('events_cursors', {
  name: text().primaryKey(),
  seq: integer().notNull(),
})
