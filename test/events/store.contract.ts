import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events/model.ts'
import type { EventsStore } from '../../src/events/store.ts'

/** Hooks into one write transaction of the engine. */
export type WriteHooks = {
  /** Runs first inside the transaction. */
  opened?(): void
  /** Runs last inside it, just before the commit (awaited where the engine's transaction can wait). */
  closing?(): void | Promise<void>
  /** Thrown inside the transaction after the appends, which rolls it back. */
  fail?: Error
}

export type EventsContractTarget = {
  store: EventsStore
  /** Appends `events` through the engine's outbox in one write transaction. */
  write(events: NewEvent[], hooks?: WriteHooks): Promise<void>
  /** The engine's outbox's commit notices. */
  onCommit(wake: () => void): () => void
  close(): Promise<void>
}

const event = (subject: string, n: number, time = new Date()): NewEvent => ({
  tenantId: '',
  type: 'device-status-changed',
  subject,
  data: { id: subject, n },
  time,
})

/** What every engine's events store promises; each engine's test file runs it against a real database. */
export function eventsStoreContract(name: string, open: () => Promise<EventsContractTarget>): void {
  describe(`${name} events store`, () => {
    let target: EventsContractTarget
    beforeAll(async () => {
      target = await open()
    })
    afterAll(() => target.close())

    test('an empty outbox has no seq', async () => {
      expect(await target.store.lastSeq()).toBe(0)
      expect(await target.store.firstSeq()).toBeUndefined()
      expect(await target.store.readAfter(0, 10)).toEqual([])
    })

    test('reads committed events in seq order, from a cursor, a page at a time', async () => {
      const start = await target.store.lastSeq()
      await target.write([0, 1, 2, 3, 4].map((n) => event('dev-a', n)))
      const all = await target.store.readAfter(start, 100)
      expect(all.map((e) => e.data.n)).toEqual([0, 1, 2, 3, 4])
      expect(all.every((e, i) => i === 0 || e.seq > all[i - 1]!.seq)).toBe(true)
      expect(new Set(all.map((e) => e.id)).size).toBe(5)
      expect(all[0]).toMatchObject({ tenantId: '', type: 'device-status-changed', subject: 'dev-a' })
      expect(all[0]!.time).toBeInstanceOf(Date)
      const page = await target.store.readAfter(all[1]!.seq, 2)
      expect(page.map((e) => e.data.n)).toEqual([2, 3])
      expect(await target.store.lastSeq()).toBe(all[4]!.seq)
    })

    test('an event written in a transaction that rolls back never appears', async () => {
      const start = await target.store.lastSeq()
      await expect(
        target.write([event('dev-b', 1)], { fail: new Error('the change failed') }),
      ).rejects.toThrow('the change failed')
      await target.write([event('dev-b', 2)])
      const read = await target.store.readAfter(start, 10)
      expect(read.map((e) => e.data.n)).toEqual([2])
    })

    test('wakes its listeners after the commit; nothing they read shows an uncommitted event', async () => {
      const start = await target.store.lastSeq()
      // Reads made by wakes while the transaction is open, and whether the commit's wake came.
      const readsWhileOpen: Promise<number>[] = []
      let open = false
      let sawCommit: () => void = () => {}
      const committed = new Promise<void>((resolve) => {
        sawCommit = resolve
      })
      const stop = target.onCommit(() => {
        const read = target.store.readAfter(start, 10).then((events) => events.length)
        if (open) readsWhileOpen.push(read)
        else void read.then((count) => count === 2 && sawCommit())
      })
      await target.write([event('dev-c', 1), event('dev-c', 2)], {
        opened: () => {
          open = true
        },
        // Reads a wake started while the transaction was open finish before it commits (where the
        // engine can wait inside a transaction), so what they saw is what an uncommitted write shows.
        closing: async () => {
          open = false
          await Promise.all(readsWhileOpen)
        },
      })
      await committed
      stop()
      expect(await Promise.all(readsWhileOpen)).toEqual(readsWhileOpen.map(() => 0))
    })

    test('prunes by age, then down to a count, and never reuses a seq', async () => {
      const old = new Date(Date.now() - 3_600_000)
      await target.write([0, 1, 2].map((n) => event('dev-d', n, old)))
      await target.write([3, 4, 5, 6, 7, 8, 9].map((n) => event('dev-d', n)))
      const last = await target.store.lastSeq()
      const before = await target.store.readAfter(0, 1000)
      const gone = await target.store.prune(new Date(Date.now() - 60_000), 4)
      const kept = await target.store.readAfter(0, 1000)
      expect(kept.map((e) => e.data.n)).toEqual([6, 7, 8, 9])
      expect(gone).toBe(before.length - 4)
      expect(await target.store.firstSeq()).toBe(kept[0]!.seq)
      await target.store.prune(new Date(Date.now() + 60_000), 1000)
      expect(await target.store.readAfter(0, 10)).toEqual([])
      await target.write([event('dev-d', 10)])
      const [next] = await target.store.readAfter(0, 10)
      expect(next!.seq).toBeGreaterThan(last)
    })
  })
}
