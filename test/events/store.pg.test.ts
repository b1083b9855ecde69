import { expect, test } from 'bun:test'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { pgOutboxFor } from '../../src/events/outbox.pg.ts'
import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { eventsStoreContract } from './store.contract.ts'

eventsStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  const outbox = pgOutboxFor(db)
  return {
    store: createPgEventsStore(db),
    async write(events, hooks = {}) {
      await db.transaction(async (tx) => {
        hooks.opened?.()
        for (const event of events) await outbox.append(tx, event)
        if (hooks.fail) throw hooks.fail
        await hooks.closing?.()
      })
    },
    onCommit: (wake) => outbox.onCommit(wake),
    close,
  }
})

test('a commit through another pool (another instance) wakes this pool’s listeners', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const other = await openPgDatabase(url)
  try {
    const store = createPgEventsStore(db)
    const reads: Promise<number>[] = []
    let woken: () => void = () => {}
    const wakes = () =>
      new Promise<void>((resolve) => {
        woken = resolve
      })
    let next = wakes()
    const stop = pgOutboxFor(db).onCommit(() => {
      reads.push(store.readAfter(0, 10).then((events) => events.length))
      woken()
    })
    // The first wake says the listening connection is subscribed; its read finds nothing yet.
    await next
    expect(await reads[0]).toBe(0)
    next = wakes()
    const outbox = pgOutboxFor(other)
    await other.transaction(async (tx) => {
      for (const n of [1, 2])
        await outbox.append(tx, { tenantId: '', type: 'device-provisioned', subject: 'dev', data: { n } })
    })
    await next
    stop()
    expect(await reads[1]).toBe(2)
  } finally {
    await other.$client.close()
    await close()
  }
})

/** Until an advisory lock is held (granted) or waited for by some session. */
async function waitFor(db: PgDatabase, state: 'granted' | 'waiting'): Promise<void> {
  for (;;) {
    const [row] = (await db.$client`
      SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted = ${state === 'granted'}`) as [
      { n: number },
    ]
    if (row.n > 0) return
    await Bun.sleep(10)
  }
}

test('writers that interleave still commit their events in seq order', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const other = await openPgDatabase(url)
  try {
    const store = createPgEventsStore(db)
    // A holds the outbox lock (it appended) and commits late; B appends meanwhile and must wait.
    let releaseA: () => void = () => {}
    const aMayCommit = new Promise<void>((resolve) => {
      releaseA = resolve
    })
    const event = (n: number) => ({
      tenantId: '',
      type: 'device-provisioned' as const,
      subject: 'dev',
      data: { n },
    })
    const a = db.transaction(async (tx) => {
      await pgOutboxFor(db).append(tx, event(1))
      await aMayCommit
    })
    await waitFor(db, 'granted')
    const b = other.transaction(async (tx) => {
      await pgOutboxFor(other).append(tx, event(2))
    })
    // B waits for the lock A holds: nothing of either is visible yet.
    await waitFor(db, 'waiting')
    expect(await store.readAfter(0, 10)).toEqual([])
    releaseA()
    await Promise.all([a, b])
    const events = await store.readAfter(0, 10)
    expect(events.map((e) => e.data.n)).toEqual([1, 2])
  } finally {
    await other.$client.close()
    await close()
  }
})
