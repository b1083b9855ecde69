import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events/model.ts'
import type { Outbox } from '../../src/events/outbox.ts'
import type { EventsStore } from '../../src/events/store.ts'

export type EventsContractTarget = {
  store: EventsStore
  outbox: Outbox
  /** Runs `fn` in one write transaction of the engine; a throw rolls it back. */
  transaction(fn: () => void): void
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
      for (let n = 0; n < 5; n++) target.outbox.append(event('dev-a', n))
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
      expect(() =>
        target.transaction(() => {
          target.outbox.append(event('dev-b', 1))
          throw new Error('the change failed')
        }),
      ).toThrow('the change failed')
      target.transaction(() => target.outbox.append(event('dev-b', 2)))
      const read = await target.store.readAfter(start, 10)
      expect(read.map((e) => e.data.n)).toEqual([2])
    })

    test('wakes its listeners after the commit, not during the transaction', async () => {
      const start = await target.store.lastSeq()
      const seen: number[] = []
      const stop = target.outbox.onCommit(() => {
        void target.store.readAfter(start, 10).then((events) => seen.push(events.length))
      })
      target.transaction(() => {
        target.outbox.append(event('dev-c', 1))
        target.outbox.append(event('dev-c', 2))
        expect(seen).toEqual([])
      })
      await Bun.sleep(0)
      await Bun.sleep(0)
      stop()
      expect(seen).toEqual([2])
    })

    test('prunes by age, then down to a count, and never reuses a seq', async () => {
      const old = new Date(Date.now() - 3_600_000)
      for (let n = 0; n < 3; n++) target.outbox.append(event('dev-d', n, old))
      for (let n = 3; n < 10; n++) target.outbox.append(event('dev-d', n))
      const last = await target.store.lastSeq()
      const before = await target.store.readAfter(0, 1000)
      const gone = await target.store.prune(new Date(Date.now() - 60_000), 4)
      const kept = await target.store.readAfter(0, 1000)
      expect(kept.map((e) => e.data.n)).toEqual([6, 7, 8, 9])
      expect(gone).toBe(before.length - 4)
      expect(await target.store.firstSeq()).toBe(kept[0]!.seq)
      await target.store.prune(new Date(Date.now() + 60_000), 1000)
      expect(await target.store.readAfter(0, 10)).toEqual([])
      target.outbox.append(event('dev-d', 10))
      const [next] = await target.store.readAfter(0, 10)
      expect(next!.seq).toBeGreaterThan(last)
    })
  })
}
