import { asc, eq, gt, max, sql } from 'drizzle-orm'
import type { Database } from '../../db/client.ts'
import { preparedOnFirstUse } from '../../db/lazy.ts'
import type { OutboxEvent } from './model.ts'
import { eventCursors, outboxEvents } from './tables.ts'

/** The read side of the outbox. */
export interface EventsStore {
  /** Committed events with `seq` above `afterSeq`, oldest first, at most `limit` of them. */
  readAfter(afterSeq: number, limit: number): Promise<OutboxEvent[]>
  /** The newest committed `seq`, 0 while there is none. */
  lastSeq(): Promise<number>
  /** The oldest `seq` still kept, undefined while the outbox is empty. */
  firstSeq(): Promise<number | undefined>
  /** Deletes the events written before `before`, then all but the newest `keep`; answers how many went. */
  prune(before: Date, keep: number): Promise<number>
  /** The seq a durable subscriber last saved, undefined for one never seen. */
  readCursor(name: string): Promise<number | undefined>
  /** Saves a durable subscriber's seq. */
  saveCursor(name: string, seq: number): Promise<void>
}

export function createEventsStore(db: Database): EventsStore {
  const ph = sql.placeholder
  const after = preparedOnFirstUse(() =>
    db
      .select()
      .from(outboxEvents)
      .where(gt(outboxEvents.seq, ph('afterSeq')))
      .orderBy(asc(outboxEvents.seq))
      .limit(ph('limit'))
      .prepare(),
  )
  const newest = preparedOnFirstUse(() =>
    db
      .select({ seq: max(outboxEvents.seq) })
      .from(outboxEvents)
      .prepare(),
  )
  const toEvent = (row: typeof outboxEvents.$inferSelect): OutboxEvent => ({ ...row })

  return {
    readAfter: async (afterSeq, limit) => after.all({ afterSeq, limit }).map(toEvent),

    // Read at call time, so a subscriber starting "from now" starts exactly here.
    lastSeq: async () => newest.get()?.seq ?? 0,

    firstSeq: async () =>
      db.select({ seq: outboxEvents.seq }).from(outboxEvents).orderBy(asc(outboxEvents.seq)).limit(1).get()
        ?.seq,

    readCursor: async (name) =>
      db.select({ seq: eventCursors.seq }).from(eventCursors).where(eq(eventCursors.name, name)).get()?.seq,

    async saveCursor(name, seq) {
      db.insert(eventCursors)
        .values({ name, seq })
        .onConflictDoUpdate({ target: eventCursors.name, set: { seq } })
        .run()
    },

    prune: async (before, keep) => pruneByAgeAndCount(db, 'events_outbox', before, keep),
  }
}

/**
 * Deletes the rows of an event table (one with `seq` and `time`) written before `before`, then all
 * but the newest `keep` (fewer when seqs have gaps); answers how many went. Raw statements: the
 * counts come back without materialising what went.
 */
export function pruneByAgeAndCount(
  db: Database,
  table: 'events_outbox' | 'iot_manager_events',
  before: Date,
  keep: number,
): number {
  const sqlite = db.$client
  return db.transaction(() => {
    const old = sqlite.run(`DELETE FROM ${table} WHERE time < ?`, [before.getTime()]).changes
    const excess = sqlite.run(`DELETE FROM ${table} WHERE seq <= (SELECT max(seq) FROM ${table}) - ?`, [
      keep,
    ]).changes
    return old + excess
  })
}
