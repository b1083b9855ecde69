import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  type BlobStore,
  type ByteRange,
  InvalidBlobKeyError,
  RangeNotSatisfiableError,
} from '../../src/storage/blobs.ts'
import { sweepOrphans } from '../../src/storage/orphans.ts'
import { patternBytes, patternStream, readAll, until } from './bytes.ts'

export type ContractTarget = {
  store: BlobStore
  /** Whatever a put into `key` may leave behind in the backend besides the object (temp files, open multipart uploads). */
  leftovers(key: string): Promise<string[]>
  close(): Promise<void>
}

const MiB = 1024 * 1024

async function keysOf(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const entry of store.list(prefix)) keys.push(entry.key)
  return keys.sort()
}

/** The behaviour every blob store shares; each implementation's test file runs it against a real backend. */
export function blobStoreContract(name: string, open: () => Promise<ContractTarget>): void {
  describe(`${name} blob store`, () => {
    let target: ContractTarget
    let store: BlobStore
    beforeAll(async () => {
      target = await open()
      store = target.store
    })
    afterAll(() => target.close())

    test('streams a multi-MiB object in and out unchanged', async () => {
      const size = 10 * MiB + 123
      const source = patternStream(size)
      await store.put('roundtrip/big', source.stream)
      const info = await store.stat('roundtrip/big')
      expect(info?.size).toBe(size)
      expect(info?.mtime).toBeInstanceOf(Date)
      expect(Number.isNaN(info!.mtime.getTime())).toBe(false)
      const content = await store.get('roundtrip/big')
      expect(content).toMatchObject({ size, start: 0, end: size - 1 })
      const bytes = await readAll(content!.body)
      expect(bytes.length).toBe(size)
      expect(Buffer.from(bytes).equals(Buffer.from(patternBytes(0, size)))).toBe(true)
    })

    test('stores and serves an empty object', async () => {
      await store.put('roundtrip/empty', new Blob([]).stream())
      expect((await store.stat('roundtrip/empty'))?.size).toBe(0)
      const content = await store.get('roundtrip/empty')
      expect(content).toMatchObject({ size: 0, start: 0, end: -1 })
      expect((await readAll(content!.body)).length).toBe(0)
      await expect(store.get('roundtrip/empty', { start: 0 })).rejects.toBeInstanceOf(
        RangeNotSatisfiableError,
      )
    })

    describe('ranges', () => {
      const size = 3 * MiB + 17
      beforeAll(async () => {
        await store.put('ranges/object', patternStream(size).stream)
      })

      const cases: [string, ByteRange, number, number][] = [
        ['start- (a resumed download)', { start: 1000 }, 1000, size - 1],
        ['start-end', { start: 10, end: 19 }, 10, 19],
        ['start-end past the end is clamped', { start: size - 5, end: size + 100 }, size - 5, size - 1],
        ['one byte', { start: 7, end: 7 }, 7, 7],
        ['suffix', { suffix: 500 }, size - 500, size - 1],
        ['suffix longer than the object', { suffix: size + 10 }, 0, size - 1],
      ]
      for (const [label, range, start, end] of cases) {
        test(label, async () => {
          const content = await store.get('ranges/object', range)
          expect(content).toMatchObject({ size, start, end })
          const bytes = await readAll(content!.body)
          expect(Buffer.from(bytes).equals(Buffer.from(patternBytes(start, end - start + 1)))).toBe(true)
        })
      }

      test('a range that selects nothing is RangeNotSatisfiable with the size', async () => {
        for (const range of [{ start: size }, { start: size + 1000, end: size + 2000 }, { suffix: 0 }]) {
          const err = await store.get('ranges/object', range).catch((e) => e)
          expect(err).toBeInstanceOf(RangeNotSatisfiableError)
          expect(err.size).toBe(size)
        }
      })

      test('a range on a missing object is just missing', async () => {
        expect(await store.get('ranges/missing', { start: 5 })).toBeUndefined()
        expect(await store.get('ranges/missing', { suffix: 0 })).toBeUndefined()
      })
    })

    test('a missing object has no stat and no content', async () => {
      expect(await store.stat('missing/nothing')).toBeUndefined()
      expect(await store.get('missing/nothing')).toBeUndefined()
    })

    test('delete removes the object and is idempotent', async () => {
      await store.put('delete/me', patternStream(1000).stream)
      await store.delete('delete/me')
      expect(await store.stat('delete/me')).toBeUndefined()
      await store.delete('delete/me')
      await store.delete('delete/never-existed')
      expect(await keysOf(store, 'delete/')).toEqual([])
    })

    test('list yields every complete object under a prefix with its mtime', async () => {
      for (const key of ['list/a', 'list/b/c', 'list-other/a']) await store.put(key, patternStream(10).stream)
      expect(await keysOf(store, 'list/')).toEqual(['list/a', 'list/b/c'])
      const all = await keysOf(store, '')
      expect(all).toContain('list-other/a')
      for await (const entry of store.list('list')) expect(entry.mtime).toBeInstanceOf(Date)
    })

    test('an object is invisible until its put completes', async () => {
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const first = patternBytes(0, 9 * MiB)
      let sent = 0
      const source = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === first.length) {
            await gate
            controller.enqueue(patternBytes(sent, 100))
            controller.close()
            return
          }
          controller.enqueue(first.subarray(sent, sent + MiB))
          sent += MiB
        },
      })
      const putting = store.put('partial/object', source)
      await until(() => sent === first.length, 'the source to be drained up to the gate')
      expect(await store.stat('partial/object')).toBeUndefined()
      expect(await store.get('partial/object')).toBeUndefined()
      expect(await keysOf(store, 'partial/')).toEqual([])
      release()
      await putting
      expect((await store.stat('partial/object'))?.size).toBe(9 * MiB + 100)
    })

    test('a put whose source fails midway leaves no object and nothing else behind', async () => {
      // Past one multipart part, so S3 has an upload in progress to abort.
      const source = patternStream(20 * MiB, { failAfter: 12 * MiB })
      await expect(store.put('failed/object', source.stream)).rejects.toThrow('source failed midway')
      expect(await store.stat('failed/object')).toBeUndefined()
      expect(await keysOf(store, 'failed/')).toEqual([])
      expect(await target.leftovers('failed/object')).toEqual([])
    })

    test('keys that could escape or hide are refused by every operation', async () => {
      const bad = [
        '',
        '../escape',
        'a/../../b',
        '/abs',
        'a//b',
        'a/./b',
        '.hidden',
        'a/.tmp',
        'a/',
        'a\\b',
        'a b',
        'ä',
      ]
      for (const key of bad) {
        await expect(store.put(key, patternStream(1).stream)).rejects.toBeInstanceOf(InvalidBlobKeyError)
        await expect(store.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError)
        await expect(store.stat(key)).rejects.toBeInstanceOf(InvalidBlobKeyError)
        await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidBlobKeyError)
      }
      await expect(store.stat('x'.repeat(201))).rejects.toBeInstanceOf(InvalidBlobKeyError)
      expect(await store.stat(`ok/${'x'.repeat(200)}`)).toBeUndefined()
    })

    test('the orphan sweep removes old unreferenced objects only', async () => {
      for (const key of ['sweep/kept', 'sweep/orphan', 'sweep/deep/orphan']) {
        await store.put(key, patternStream(100).stream)
      }
      await store.put('outside/unreferenced', patternStream(100).stream)
      const isReferenced = async (key: string) => key === 'sweep/kept'
      const past = new Date(Date.now() - 3600_000)
      const none = await sweepOrphans(store, { isReferenced, olderThan: past, prefix: 'sweep/' })
      expect(none.removed).toEqual([])
      expect(await keysOf(store, 'sweep/')).toEqual(['sweep/deep/orphan', 'sweep/kept', 'sweep/orphan'])
      const future = new Date(Date.now() + 3600_000)
      const swept = await sweepOrphans(store, { isReferenced, olderThan: future, prefix: 'sweep/' })
      expect(swept.removed.sort()).toEqual(['sweep/deep/orphan', 'sweep/orphan'])
      expect(await keysOf(store, 'sweep/')).toEqual(['sweep/kept'])
      expect(await store.stat('outside/unreferenced')).toBeDefined()
    })
  })
}
