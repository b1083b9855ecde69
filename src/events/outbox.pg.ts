import { sql } from 'drizzle-orm'
import type { PgDatabase, PgTransaction } from '../../db/pg.ts'
import { systemClock } from '../clock.ts'
import type { NewEvent } from './model.ts'
import { type Outbox, perHandle } from './outbox.ts'
import { outboxEvents } from './tables.pg.ts'

/** The write side of the events on PostgreSQL (see outbox.ts for SQLite's). */
export type PgOutbox = Pick<Outbox, 'useClock'> & {
  /**
   * Inserts the event in the caller's transaction `tx`: it commits or rolls back with the change.
   * It first takes the outbox lock, held until that transaction ends, so that events commit in
   * `seq` order (a reader that has seen seq N never finds a smaller one committing later); call
   * it as the last step of the transaction, since other writers of events wait for the lock.
   */
  append(tx: PgTransaction, event: Omit<NewEvent, 'time'> & { time?: Date }): Promise<void>
  /** `append` for several events, in the order given: one lock, and one INSERT per thousand events. */
  appendAll(tx: PgTransaction, events: (Omit<NewEvent, 'time'> & { time?: Date })[]): Promise<void>
  /**
   * Calls `wake` after each commit that wrote events, in this process or any other on the same
   * database (PostgreSQL's NOTIFY is sent at commit, never for a rollback), and whenever the
   * listening connection has just (re)connected, since notices sent meanwhile are lost. Answers a
   * function that stops the calls.
   */
  onCommit(wake: () => void): () => void
}

/** The channel commits that wrote events are announced on. */
const CHANNEL = 'bender_events_outbox'
/** The transaction-scoped advisory lock of event writers ("bender-outbox" in ASCII, truncated). */
const OUTBOX_LOCK = 0x62656e6465726f75n

/** Events per INSERT (6 bound values each, well under PostgreSQL's 65535). */
const INSERT_CHUNK = 1000

/** The outbox of this pool, made on first use (one LISTEN per pool however many subscribe). */
export const pgOutboxFor: (db: PgDatabase) => PgOutbox = perHandle((db: PgDatabase) => createPgOutbox(db))

function createPgOutbox(db: PgDatabase): PgOutbox {
  let clock = systemClock
  const wakers = new Set<() => void>()
  const wakeAll = () => {
    for (const wake of wakers) wake()
  }
  let listening: Promise<{ unlisten(): Promise<void> } | undefined> | undefined
  const listen = () => {
    listening ??= db.$client.listen(CHANNEL, wakeAll, wakeAll).catch(() => {
      // The pool is closed or the server gone: the events service's polling still finds commits.
      listening = undefined
      return undefined
    })
  }
  const unlisten = () => {
    const subscription = listening
    listening = undefined
    void subscription?.then((s) => s?.unlisten()).catch(() => {})
  }
  const appendAll: PgOutbox['appendAll'] = async (tx, events) => {
    if (events.length === 0) return
    await tx.execute(
      sql`SELECT pg_advisory_xact_lock(${OUTBOX_LOCK.toString()}::bigint), pg_notify(${CHANNEL}, '')`,
    )
    for (let i = 0; i < events.length; i += INSERT_CHUNK) {
      // One multi-row INSERT numbers its rows in the order of its VALUES.
      await tx.insert(outboxEvents).values(
        events.slice(i, i + INSERT_CHUNK).map((event) => ({
          id: crypto.randomUUID(),
          tenantId: event.tenantId,
          type: event.type,
          subject: event.subject,
          data: event.data,
          time: event.time ?? clock.now(),
        })),
      )
    }
  }
  return {
    append: (tx, event) => appendAll(tx, [event]),
    appendAll,
    useClock(next) {
      clock = next
    },
    onCommit(wake) {
      wakers.add(wake)
      listen()
      return () => {
        wakers.delete(wake)
        if (wakers.size === 0) unlisten()
      }
    },
  }
}
