import { expect, test } from 'bun:test'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { systemClock } from '../../src/clock.ts'
import { loadConfig } from '../../src/config.ts'
import type { OutboxEvent } from '../../src/events/model.ts'
import { pgOutboxFor } from '../../src/events/outbox.pg.ts'
import { createEventsService, type EventsService } from '../../src/events/service.ts'
import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { createLogger } from '../../src/log.ts'
import { openTestPgDatabase } from '../helpers/database.ts'

/** An instance's events service on its own pool, as each bender process would have. */
function eventsOn(db: PgDatabase): EventsService {
  const deps = { config: loadConfig({}), clock: systemClock, log: createLogger('error') }
  return createEventsService(deps, { store: createPgEventsStore(db), outbox: pgOutboxFor(db) })
}

/** Until the durable subscription `name` has saved its starting position. */
async function waitForCursor(db: PgDatabase, name: string): Promise<void> {
  const store = createPgEventsStore(db)
  while ((await store.readCursor(name)) === undefined) await Bun.sleep(10)
}

async function write(db: PgDatabase, subject: string, n: number): Promise<void> {
  await db.transaction(async (tx) => {
    await pgOutboxFor(db).append(tx, { tenantId: '', type: 'device-provisioned', subject, data: { n } })
  })
}

/** Collects what `subscribe` hands over; `until(n)` resolves once the event numbered n came. */
function collector() {
  const events: OutboxEvent[] = []
  let waiting: { n: number; resolve: () => void } | undefined
  const seen = (n: number) => events.some((e) => e.data.n === n)
  const listener = (event: OutboxEvent) => {
    events.push(event)
    if (waiting && seen(waiting.n)) waiting.resolve()
  }
  const until = (n: number) =>
    seen(n) ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { n, resolve }))
  return { events, listener, until, numbers: () => events.map((e) => e.data.n) }
}

test('an instance’s subscribers hear, in order, the events another instance commits', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const otherDb = await openPgDatabase(url)
  const here = eventsOn(db)
  try {
    const heard = collector()
    const stop = here.subscribe(heard.listener, { afterSeq: 0 })
    for (let n = 1; n <= 3; n++) await write(otherDb, 'dev-1', n)
    await heard.until(3)
    stop()
    expect(heard.numbers()).toEqual([1, 2, 3])
  } finally {
    await here.stop()
    await otherDb.$client.close()
    await close()
  }
})

test('a durable subscription resumes on another instance where the first one stopped', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const secondDb = await openPgDatabase(url)
  const first = eventsOn(db)
  try {
    const before = collector()
    await write(db, 'dev-2', 0)
    // The first subscription starts from now (event 0 is before it) and hears what comes after.
    const stopFirst = first.subscribeDurable('webhooks', before.listener)
    await waitForCursor(db, 'webhooks')
    await write(db, 'dev-2', 1)
    await before.until(1)
    // A macrotask: the subscription notes the event as handled once the listener has returned.
    await Bun.sleep(1)
    stopFirst()
    await first.stop()
    // stop() waits for the last position to be written: it is there at once.
    const firstLast = before.events.at(-1)!.seq
    expect(await createPgEventsStore(db).readCursor('webhooks')).toBe(firstLast)
    await write(db, 'dev-2', 2)
    const second = eventsOn(secondDb)
    const after = collector()
    const stopSecond = second.subscribeDurable('webhooks', after.listener)
    await write(secondDb, 'dev-2', 3)
    await after.until(3)
    await Bun.sleep(1)
    stopSecond()
    await second.stop()
    const last = after.events.at(-1)!.seq
    expect(await createPgEventsStore(secondDb).readCursor('webhooks')).toBe(last)
    expect(before.numbers()).toEqual([1])
    expect(after.numbers()).toEqual([2, 3])
  } finally {
    await secondDb.$client.close()
    await close()
  }
})
