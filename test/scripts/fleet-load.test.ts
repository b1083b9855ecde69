import { describe, expect, test } from 'bun:test'
import {
  arrivals,
  devicesCarried,
  dueBy,
  highestHolding,
  KINDS,
  type Kind,
  MENDER_MIX,
  mixSequence,
  parseRates,
  percentile,
  summarize,
  worstWindows,
} from '../../scripts/fleet-load.ts'

describe('fleet bench load model', () => {
  test('the mix sends each kind in its share, within one request at every prefix', () => {
    const next = mixSequence({ next: 940, inventory: 57, auth: 3, list: 3 })
    const counts: Record<Kind, number> = { next: 0, inventory: 0, auth: 0, list: 0 }
    for (let n = 1; n <= 1003 * 3; n++) {
      counts[next()]++
      for (const kind of KINDS) {
        const share = { next: 940, inventory: 57, auth: 3, list: 3 }[kind] / 1003
        expect(Math.abs(counts[kind] - n * share)).toBeLessThan(1)
      }
    }
    expect(counts).toEqual({ next: 2820, inventory: 171, auth: 9, list: 9 })
  })

  test("Mender's mix puts auth and list requests in a short step too", () => {
    const next = mixSequence(MENDER_MIX)
    const kinds = Array.from({ length: 1000 }, next)
    expect(kinds.filter((k) => k === 'auth').length).toBe(3)
    expect(kinds.filter((k) => k === 'list').length).toBe(3)
    expect(kinds.filter((k) => k === 'inventory').length).toBe(57)
  })

  test('a mix without weight is refused', () => {
    expect(() => mixSequence({ next: 0, inventory: 0, auth: 0, list: 0 })).toThrow()
  })

  test('arrivals are evenly spaced at the rate, rate × seconds of them', () => {
    const schedule = arrivals(4, 2)
    expect([...schedule]).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750])
    expect(arrivals(63, 10).length).toBe(630)
    expect(() => arrivals(0, 10)).toThrow()
  })

  test('dueBy counts what is due, from the first unsent', () => {
    const schedule = arrivals(10, 1)
    expect(dueBy(schedule, 0, -1)).toBe(0)
    expect(dueBy(schedule, 0, 0)).toBe(1)
    expect(dueBy(schedule, 1, 250)).toBe(3)
    expect(dueBy(schedule, 3, 10_000)).toBe(10)
  })

  test('nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 0.5)).toBe(50)
    expect(percentile(sorted, 0.99)).toBe(99)
    expect(percentile(sorted, 1)).toBe(100)
    expect(percentile([7], 0.99)).toBe(7)
    expect(percentile([], 0.5)).toBeNaN()
  })

  test('summarize sorts and reports p50, p99 and max', () => {
    const latencies = Float64Array.from([5, 1, 300, 2, 4, 3, 2, 1, 2, 3])
    expect(summarize(latencies)).toEqual({ count: 10, p50: 2, p99: 300, max: 300 })
  })

  test('the highest rate that held needs p99 within the bar and no errors', () => {
    const steps = [
      { rate: 63, p99: 39, errors: 0 },
      { rate: 125, p99: 124, errors: 0 },
      { rate: 250, p99: 20, errors: 1 },
      { rate: 500, p99: 45, errors: 0 },
    ]
    expect(highestHolding(steps, 50)).toBe(500)
    expect(highestHolding(steps.slice(1, 3), 50)).toBeUndefined()
  })

  test('devices carried at 51 requests a device a day', () => {
    expect(devicesCarried(5900)).toBe(9_995_294)
    expect(devicesCarried(63)).toBe(106_729)
  })

  test('worst windows: the slowest second first', () => {
    const due = [0, 100, 1100, 1200, 2500]
    const latency = [1, 2, 400, 3, 9]
    expect(worstWindows(due, latency, 1000, 2)).toEqual([
      { startMs: 1000, max: 400, count: 2 },
      { startMs: 2000, max: 9, count: 1 },
    ])
  })

  test('rates parse as a list of positive numbers', () => {
    expect(parseRates('63, 125,500')).toEqual([63, 125, 500])
    expect(() => parseRates('63,-1')).toThrow()
    expect(() => parseRates('abc')).toThrow()
  })
})
