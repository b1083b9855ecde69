import { asc, eq, gt, max, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../db/pg.ts'
import type { EventsStore } from './store.ts'
import { eventCursors, outboxEvents } from './tables.pg.ts'

/** The events store on PostgreSQL (see store.ts for what each method promises). */
export function createPgEventsStore(db: PgDatabase): EventsStore {
  const ph = sql.placeholder
  const after = db
    .select()
    .from(outboxEvents)
    .where(gt(outboxEvents.seq, ph('afterSeq')))
    .orderBy(asc(outboxEvents.seq))
    .limit(ph('limit'))
    .prepare('events_read_after')
  const newest = db
    .select({ seq: max(outboxEvents.seq) })
    .from(outboxEvents)
    .prepare('events_last_seq')

  return {
    readAfter: (afterSeq, limit) => after.execute({ afterSeq, limit }),

    lastSeq: async () => Number((await newest.execute())[0]?.seq ?? 0),

    async firstSeq() {
      const [row] = await db
        .select({ seq: outboxEvents.seq })
        .from(outboxEvents)
        .orderBy(asc(outboxEvents.seq))
        .limit(1)
      return row?.seq
    },

    async readCursor(name) {
      const [row] = await db
        .select({ seq: eventCursors.seq })
        .from(eventCursors)
        .where(eq(eventCursors.name, name))
      return row?.seq
    },

    async saveCursor(name, seq) {
      await db
        .insert(eventCursors)
        .values({ name, seq })
        .onConflictDoUpdate({ target: eventCursors.name, set: { seq } })
    },

    prune: (before, keep) => prunePgByAgeAndCount(db, 'events_outbox', before, keep),
  }
}

/**
 * Deletes the rows of an event table (one with `seq` and `time`) written before `before`, then all
 * but the newest `keep` (fewer when seqs have gaps), in one transaction; answers how many went.
 */
export async function prunePgByAgeAndCount(
  db: PgDatabase,
  table: 'events_outbox' | 'iot_manager_events',
  before: Date,
  keep: number,
): Promise<number> {
  const name = sql.identifier(table)
  return db.transaction(async (tx) => {
    const old = await tx.execute(sql`DELETE FROM ${name} WHERE time < ${before}`)
    const excess = await tx.execute(
      sql`DELETE FROM ${name} WHERE seq <= (SELECT max(seq) FROM ${name}) - ${keep}`,
    )
    return affected(old) + affected(excess)
  })
}

/** The count of rows a raw statement changed, as Bun's client reports it. */
export const affected = (result: unknown): number => (result as { count: number }).count
