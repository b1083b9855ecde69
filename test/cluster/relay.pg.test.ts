import { expect, test } from 'bun:test'
import { openPgDatabase } from '../../db/pg.ts'
import { createPgDeviceHolders, createPgRelay } from '../../src/cluster/relay.pg.ts'
import { createUnpacker, packMessages } from '../../src/cluster/relay.ts'
import { createLogger } from '../../src/log.ts'
import { openTestPgDatabase } from '../helpers/database.ts'

const log = createLogger('error')

/** Message `n` of a stream: its number first, then bytes up to `size` derived from it. */
function message(n: number, size: number): Uint8Array {
  const bytes = new Uint8Array(Math.max(4, size))
  new DataView(bytes.buffer).setUint32(0, n)
  for (let i = 4; i < bytes.length; i++) bytes[i] = (n + i) & 0xff
  return bytes
}
const numberOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)

/** Sizes from a tiny keepalive to a 64 KiB websocket message, which spans a dozen notifications. */
const SIZES = [4, 100, 4096, 5699, 5700, 5701, 12_000, 65_536]

test('packing cuts any mix of sizes into pieces and the unpacker rebuilds them in order', () => {
  const messages = Array.from({ length: 50 }, (_, n) => message(n, SIZES[n % SIZES.length]!))
  const out: Uint8Array[] = []
  const unpacker = createUnpacker((m) => out.push(new Uint8Array(m)))
  const pieces = packMessages(messages, 5700)
  for (const piece of pieces) {
    expect(piece.bytes.length).toBeLessThanOrEqual(5700)
    unpacker.piece(piece.kind, piece.bytes)
  }
  expect(out).toEqual(messages)
})

test('a lost piece drops only the message it belonged to', () => {
  const out: number[] = []
  const unpacker = createUnpacker((m) => out.push(numberOf(m)))
  const [first, ...rest] = packMessages([message(1, 12_000)], 5700)
  unpacker.piece(first!.kind, first!.bytes)
  unpacker.gap()
  for (const piece of rest) unpacker.piece(piece.kind, piece.bytes)
  for (const piece of packMessages([message(2, 10)], 5700)) unpacker.piece(piece.kind, piece.bytes)
  expect(out).toEqual([2])
})

test('two instances relay messages both ways at once, each stream whole and in order', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const otherDb = await openPgDatabase(url)
  const a = await createPgRelay(db, log)
  const b = await createPgRelay(otherDb, log)
  try {
    const atA: Uint8Array[] = []
    const atB: Uint8Array[] = []
    a.onMessage((from, m) => {
      expect(from).toBe(b.instanceId)
      atA.push(new Uint8Array(m))
    })
    b.onMessage((from, m) => {
      expect(from).toBe(a.instanceId)
      atB.push(new Uint8Array(m))
    })
    const count = 300
    const toB = Array.from({ length: count }, (_, n) => message(n, SIZES[n % SIZES.length]!))
    const toA = Array.from({ length: count }, (_, n) => message(n, SIZES[(n + 3) % SIZES.length]!))
    // Sent in bursts with pauses, so some go alone and some leave together.
    for (let n = 0; n < count; n++) {
      a.send(b.instanceId, toB[n]!)
      b.send(a.instanceId, toA[n]!)
      if (n % 37 === 0) await Bun.sleep(5)
    }
    await Promise.all([a.flushed(), b.flushed()])
    while (atA.length < count || atB.length < count) await Bun.sleep(10)
    expect(atB.map(numberOf)).toEqual(toB.map(numberOf))
    expect(atB).toEqual(toB)
    expect(atA).toEqual(toA)
  } finally {
    await a.close()
    await b.close()
    await otherDb.$client.close()
    await close()
  }
})

test('the holder of a device is the instance that claimed it last; a release by another leaves it', async () => {
  const { db, close } = await openTestPgDatabase()
  try {
    const holders = createPgDeviceHolders(db)
    expect(await holders.holder('t', 'd')).toBeUndefined()
    await holders.claim('one', 't', 'd', new Date())
    await holders.claim('two', 't', 'd', new Date())
    await holders.release('one', 't', 'd')
    expect(await holders.holder('t', 'd')).toBe('two')
    await holders.claim('two', 't', 'e', new Date())
    await holders.releaseAll('two')
    expect(await holders.holder('t', 'd')).toBeUndefined()
    expect(await holders.holder('t', 'e')).toBeUndefined()
  } finally {
    await close()
  }
})
