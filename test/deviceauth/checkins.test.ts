import { describe, expect, test } from 'bun:test'
import { type CheckIn, createCheckInBuffer } from '../../src/services/deviceauth/checkins.ts'

const at = (second: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, second))

describe('the check-in buffer', () => {
  test('keeps the latest check-in per device and writes oldest first, in bounded batches', async () => {
    const batches: CheckIn[][] = []
    const buffer = createCheckInBuffer(async (batch) => {
      batches.push(batch)
    }, 60_000)
    buffer.record('', 'a', at(1))
    buffer.record('', 'b', at(2))
    buffer.record('t2', 'a', at(3))
    buffer.record('', 'a', at(4))
    expect(buffer.size).toBe(3)
    expect(await buffer.flush(2)).toBe(2)
    expect(batches).toEqual([
      [
        { tenantId: '', deviceId: 'b', at: at(2) },
        { tenantId: 't2', deviceId: 'a', at: at(3) },
      ],
    ])
    expect(await buffer.flush()).toBe(1)
    expect(batches[1]).toEqual([{ tenantId: '', deviceId: 'a', at: at(4) }])
    expect(await buffer.flush()).toBe(0)
    expect(batches).toHaveLength(2)
  })

  test('a failed batch stays pending, unless the device checked in again meanwhile', async () => {
    let fail = true
    const written: CheckIn[] = []
    const buffer = createCheckInBuffer(async (batch) => {
      if (fail) {
        buffer.record('', 'b', at(9))
        throw new Error('database is locked')
      }
      written.push(...batch)
    }, 60_000)
    buffer.record('', 'a', at(1))
    buffer.record('', 'b', at(2))
    await expect(buffer.flush()).rejects.toThrow('database is locked')
    expect(buffer.size).toBe(2)
    fail = false
    await buffer.stop()
    expect(written).toEqual([
      { tenantId: '', deviceId: 'b', at: at(9) },
      { tenantId: '', deviceId: 'a', at: at(1) },
    ])
    expect(buffer.size).toBe(0)
  })
})
