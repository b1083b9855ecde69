import { afterEach, expect, test } from 'bun:test'
import { FORGET_AFTER_MS, type ThrottleStore } from '../../src/services/useradm/throttle.ts'

export type OpenThrottleStore = () => Promise<{ store: ThrottleStore; close(): Promise<void> }>

const T0 = Date.UTC(2026, 0, 1)
const key = (name: string, freeFailures = 3) => ({ key: name, freeFailures })

/** What every ThrottleStore promises, on the engine `open` gives. */
export function throttleStoreContract(name: string, open: OpenThrottleStore): void {
  let opened: Awaited<ReturnType<OpenThrottleStore>> | undefined
  const store = async () => {
    opened = await open()
    return opened.store
  }
  afterEach(async () => {
    await opened?.close()
    opened = undefined
  })

  test(`${name}: failures are counted until the free ones are used, then the key waits a second`, async () => {
    const s = await store()
    expect(await s.take([key('a')], T0)).toBe(0)
    expect(await s.take([key('a')], T0 + 1)).toBe(0)
    // The third failure is counted and locks the key for a second from then.
    expect(await s.take([key('a')], T0 + 2)).toBe(0)
    expect(await s.take([key('a')], T0 + 3)).toBe(999)
    expect(await s.take([key('b')], T0 + 3)).toBe(0)
  })

  test(`${name}: each further failure doubles the wait; a refused attempt is not counted`, async () => {
    const s = await store()
    for (let i = 0; i < 3; i++) await s.take([key('a')], T0)
    expect(await s.take([key('a')], T0 + 500)).toBe(500)
    expect(await s.take([key('a')], T0 + 1000)).toBe(0)
    expect(await s.take([key('a')], T0 + 1000)).toBe(2000)
    expect(await s.take([key('a')], T0 + 3000)).toBe(0)
    expect(await s.take([key('a')], T0 + 3000)).toBe(4000)
  })

  test(`${name}: when one key must wait, none of the keys is counted`, async () => {
    const s = await store()
    for (let i = 0; i < 2; i++) await s.take([key('address', 2)], T0)
    expect(await s.take([key('account'), key('address', 2)], T0 + 10)).toBe(990)
    // account was not counted: all three of its free failures are left.
    expect(await s.take([key('account')], T0 + 20)).toBe(0)
    expect(await s.take([key('account')], T0 + 20)).toBe(0)
    expect(await s.take([key('account')], T0 + 20)).toBe(0)
    expect(await s.take([key('account')], T0 + 20)).toBe(1000)
  })

  test(`${name}: clear forgets a key, and a key quiet for an hour is forgotten`, async () => {
    const s = await store()
    for (let i = 0; i < 3; i++) await s.take([key('a'), key('b')], T0)
    await s.clear(['a'])
    expect(await s.take([key('a')], T0)).toBe(0)
    expect(await s.take([key('b')], T0)).toBe(1000)
    expect(await s.take([key('b')], T0 + FORGET_AFTER_MS + 1)).toBe(0)
    // Counted from zero again: two more are free.
    expect(await s.take([key('b')], T0 + FORGET_AFTER_MS + 1)).toBe(0)
    expect(await s.take([key('b')], T0 + FORGET_AFTER_MS + 1)).toBe(0)
  })

  test(`${name}: concurrent attempts are counted one after the other`, async () => {
    const s = await store()
    const waits = await Promise.all(Array.from({ length: 20 }, () => s.take([key('x', 5), key('y', 50)], T0)))
    expect(waits.filter((w) => w === 0)).toHaveLength(5)
  })
}
