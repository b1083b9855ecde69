import { sql } from 'drizzle-orm'
import type { Database } from '../../db/client.ts'
import { preparedOnFirstUse } from '../../db/lazy.ts'
import { type Clock, systemClock } from '../clock.ts'
import type { NewEvent } from './model.ts'
import { outboxEvents } from './tables.ts'

/** The write side of the events, used by the stores whose changes others hear about. */
export type Outbox = {
  /**
   * Inserts the event in the caller's open transaction (or on its own when none is open): it
   * commits or rolls back with the change. Synchronous, so it can join a bun:sqlite transaction.
   */
  append(event: Omit<NewEvent, 'time'> & { time?: Date }): void
  /** The clock that times events written without a time of their own (the app's, once its events service exists). */
  useClock(clock: Clock): void
  /**
   * Calls `wake` after each commit that wrote events in this process (a rolled-back write wakes it
   * too; the reader then finds nothing new). Answers a function that stops the calls.
   */
  onCommit(wake: () => void): () => void
}

/**
 * `make` called once per handle: one outbox per database handle, so stores reach it by their `db`
 * and their factories keep their signatures.
 */
export function perHandle<K extends object, V>(make: (handle: K) => V): (handle: K) => V {
  const made = new WeakMap<K, V>()
  return (handle) => {
    let value = made.get(handle)
    if (value === undefined) {
      value = make(handle)
      made.set(handle, value)
    }
    return value
  }
}

/** The outbox of this database handle, made on first use. */
export const outboxFor: (db: Database) => Outbox = perHandle((db: Database) => createOutbox(db))

function createOutbox(db: Database): Outbox {
  const ph = sql.placeholder
  const insert = preparedOnFirstUse(() =>
    db
      .insert(outboxEvents)
      .values({
        id: ph('id'),
        tenantId: ph('tenantId'),
        type: ph('type'),
        subject: ph('subject'),
        data: sql`${ph('data')}`,
        time: sql`${ph('time')}`,
      })
      .prepare(),
  )
  const wakers = new Set<() => void>()
  let clock = systemClock
  let scheduled = false
  // bun:sqlite transactions run synchronously and never span an await, so a microtask queued
  // inside one runs after it has committed (or rolled back): the earliest moment a reader may look.
  const notify = () => {
    scheduled = false
    for (const wake of wakers) wake()
  }
  return {
    append(event) {
      insert.run({
        id: crypto.randomUUID(),
        tenantId: event.tenantId,
        type: event.type,
        subject: event.subject,
        data: JSON.stringify(event.data),
        time: (event.time ?? clock.now()).getTime(),
      })
      if (!scheduled) {
        scheduled = true
        queueMicrotask(notify)
      }
    },
    useClock(next) {
      clock = next
    },
    onCommit(wake) {
      wakers.add(wake)
      return () => wakers.delete(wake)
    },
  }
}
