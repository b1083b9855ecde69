import { describe, expect, test } from 'bun:test'
import { createSlicer, nextSliceSize } from '../src/slices.ts'

describe('slices of bulk work', () => {
  test('a slice holds what the time budget allows at the last cost, growing at most twofold', () => {
    // 500 units took 250 ms: 0.5 ms each, 4 ms hold 8.
    expect(nextSliceSize(500, 500, 250, 4, 2000)).toBe(8)
    // 64 took 1 ms: 256 would fit, but a slice at most doubles.
    expect(nextSliceSize(64, 64, 1, 4, 2000)).toBe(128)
    // A partial slice (3 of 64 pending) measures the cost without shrinking the size for it.
    expect(nextSliceSize(64, 3, 0.03, 4, 2000)).toBe(128)
    // Never below one, never above the bound.
    expect(nextSliceSize(1, 1, 40, 4, 2000)).toBe(1)
    expect(nextSliceSize(1500, 1500, 0.5, 4, 2000)).toBe(2000)
    expect(nextSliceSize(8, 0, 0, 4, 2000)).toBe(16)
  })

  test('runs slices until one does less than asked, letting the event loop run between them', async () => {
    let pending = 1000
    const sizes: number[] = []
    let between = 0
    const slicer = createSlicer(100)
    const done = await slicer.run(async (size) => {
      sizes.push(size)
      setImmediate(() => between++)
      const did = Math.min(size, pending)
      pending -= did
      return did
    })
    expect(done).toBe(1000)
    expect(pending).toBe(0)
    expect(sizes.every((size) => size >= 1 && size <= 100)).toBe(true)
    // Every slice but the last was followed by a turn of the event loop.
    expect(between).toBeGreaterThanOrEqual(sizes.length - 1)
  })

  test('stops at the limit', async () => {
    const slicer = createSlicer(8)
    let calls = 0
    const done = await slicer.run(async (size) => {
      calls++
      return size
    }, 30)
    expect(done).toBe(30)
    expect(calls).toBeGreaterThanOrEqual(4)
  })
})
