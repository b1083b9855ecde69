import type { Database } from '../../db/client.ts'
import { type Outbox, outboxFor } from './outbox.ts'
import { createEventsStore, type EventsStore } from './store.ts'

/**
 * What the service reads events through on one engine: the store, and the outbox's commit notices
 * (in-process on SQLite; LISTEN/NOTIFY on PostgreSQL, which wakes every instance).
 */
export type EventsEngine = { store: EventsStore; outbox: Pick<Outbox, 'onCommit' | 'useClock'> }

/** The events of a SQLite database. */
export const sqliteEvents = (db: Database): EventsEngine => ({
  store: createEventsStore(db),
  outbox: outboxFor(db),
})
