import { describe, expect, test } from 'bun:test'
import { DeviceTokenCache, ENTRY_KEY, SLOT_BYTES } from '../../src/services/deviceauth/token-cache.ts'

const MiB = 1024 ** 2
/** The principal's fields alone (a cached one carries its entry key too). */
const fields = (p: { deviceId: string; tenantId: string; authSetId: string } | undefined) =>
  p && { deviceId: p.deviceId, tenantId: p.tenantId, authSetId: p.authSetId }
const principal = (n: number, tenantId = '') => ({
  deviceId: crypto.randomUUID(),
  tenantId,
  authSetId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
})

describe('the fleet token cache', () => {
  test('answers the principal of a token set before, until the token expires', () => {
    const cache = new DeviceTokenCache(4 * MiB)
    const held = principal(1, 'tenant-a')
    expect(cache.set('token-1', { principal: held, expiresAt: 10_000 })).toBe(true)
    const found = cache.get('token-1', 9_999)
    expect(fields(found)).toEqual(held)
    expect(found?.[ENTRY_KEY]).toEqual(cache.keyOf('token-1'))
    expect(cache.get('token-2', 0)).toBeUndefined()
    expect(cache.get('token-1', 10_000)).toBeUndefined()
    expect(cache.size).toBe(0)
    expect(cache.set('forever', { principal: held, expiresAt: undefined })).toBe(true)
    expect(fields(cache.get('forever', 4_000_000_000_000))).toEqual(held)
  })

  test('refuses principals whose ids are not lowercase UUIDs (they are not held)', () => {
    const cache = new DeviceTokenCache(4 * MiB)
    const good = principal(1)
    expect(cache.set('a', { principal: { ...good, deviceId: 'dev-1' }, expiresAt: undefined })).toBe(false)
    const upper = { ...good, deviceId: '0A0B0C0D-0000-4000-8000-000000000001' }
    expect(cache.set('b', { principal: upper, expiresAt: undefined })).toBe(false)
    expect(cache.size).toBe(0)
  })

  test('keeps each entry’s revocation stamp and check-in second', () => {
    const cache = new DeviceTokenCache(4 * MiB)
    cache.set('t', { principal: principal(1), expiresAt: undefined })
    const key = cache.keyOf('t')
    expect(cache.state(key)).toEqual({ confirmed: 0, checkIn: 0 })
    cache.update(key, { confirmed: 7 })
    cache.update(key, { checkIn: 1_700_000_000 })
    expect(cache.state(key)).toEqual({ confirmed: 7, checkIn: 1_700_000_000 })
    // Setting the token again starts afresh.
    cache.set('t', { principal: principal(1), expiresAt: undefined })
    expect(cache.state(key)).toEqual({ confirmed: 0, checkIn: 0 })
    expect(cache.size).toBe(1)
  })

  test('grows while it fits the budget, keeping what it holds on the way', () => {
    const cache = new DeviceTokenCache(64 * MiB)
    const held = Array.from({ length: 40_000 }, (_, n) => principal(n, `t${n % 3}`))
    held.forEach((p, n) => {
      cache.set(`token-${n}`, { principal: p, expiresAt: undefined })
      cache.update(cache.keyOf(`token-${n}`), { checkIn: n + 1 })
    })
    const kept = held.filter((p, n) => {
      const found = cache.get(`token-${n}`, 0)
      if (found === undefined) return false
      expect(fields(found)).toEqual(p)
      expect(cache.state(cache.keyOf(`token-${n}`))).toEqual({ confirmed: 0, checkIn: n + 1 })
      return true
    })
    // A bucket full while the table is still doubling gives up an entry: rare below the budget.
    expect(kept.length).toBe(cache.size)
    expect(kept.length).toBeGreaterThan(39_900)
  })

  test('stays within its budget, the table and the one it doubles from included, and evicts the stalest', () => {
    const budget = 8 * MiB
    const cache = new DeviceTokenCache(budget)
    // Past what the table holds, a full bucket gives up its least recently checked-in entry.
    for (let n = 0; n < 200_000; n++) {
      cache.set(`token-${n}`, { principal: principal(n), expiresAt: undefined })
      cache.update(cache.keyOf(`token-${n}`), { checkIn: n + 1 })
      expect(cache.bytes).toBeLessThanOrEqual(budget)
    }
    // 8 MiB: a table of 2¹⁶ slots, doubled from 2¹⁵ (both together: 6 MiB); 2¹⁷ would not fit.
    expect(cache.bytes).toBe(65_536 * SLOT_BYTES)
    expect(cache.size).toBeLessThanOrEqual(65_536)
    expect(cache.size).toBeGreaterThan(60_000)
    const recent = Array.from({ length: 1000 }, (_, i) => cache.get(`token-${199_999 - i}`, 0)).filter(
      Boolean,
    )
    const oldest = Array.from({ length: 1000 }, (_, i) => cache.get(`token-${i}`, 0)).filter(Boolean)
    expect(recent.length).toBeGreaterThan(990)
    expect(oldest.length).toBe(0)
  })

  test('an expired entry is evicted before a live one', () => {
    // The smallest table: 1024 buckets of 8. Fill one bucket's worth of keys landing together.
    const cache = new DeviceTokenCache(0)
    const sameBucket: string[] = []
    for (let n = 0; sameBucket.length < 9; n++) {
      if ((cache.keyOf(`k${n}`)[0]! & 1023) === 0) sameBucket.push(`k${n}`)
    }
    sameBucket.slice(0, 8).forEach((token, n) => {
      cache.set(token, { principal: principal(n), expiresAt: n === 3 ? 1000 : undefined })
    })
    cache.set(sameBucket[8]!, { principal: principal(8), expiresAt: undefined })
    expect(cache.get(sameBucket[3]!, 0)).toBeUndefined()
    for (const token of [...sameBucket.slice(0, 3), ...sameBucket.slice(4)]) {
      expect(cache.get(token, 0)).toBeDefined()
    }
  })
})
