import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlobExistsError } from '../../src/storage/blobs.ts'
import { createDiskBlobStore } from '../../src/storage/disk.ts'
import { blobStoreContract } from './blobs.contract.ts'
import { patternBytes, patternStream } from './bytes.ts'

/** Every file under `dir`, dot-named temp files included. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
}

blobStoreContract('disk', async () => {
  const root = mkdtempSync(join(tmpdir(), 'bender-disk-'))
  return {
    store: createDiskBlobStore(join(root, 'artifacts')),
    async leftovers(key) {
      return filesUnder(root).filter((path) =>
        path.startsWith(`artifacts/${key.slice(0, key.lastIndexOf('/'))}`),
      )
    },
    async close() {
      rmSync(root, { recursive: true, force: true })
    },
  }
})

describe('disk blob store', () => {
  let root: string
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'bender-disk-'))
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  test('chunks of any size, larger than its write buffers too, land in order', async () => {
    const store = createDiskBlobStore(join(root, 'chunks'))
    for (const chunkSize of [4093, 1024 * 1024, 3 * 1024 * 1024 + 7]) {
      const size = 5 * 1024 * 1024 + 11
      const key = `sizes/${chunkSize}`
      await store.put(key, patternStream(size, { chunkSize }).stream)
      const written = new Uint8Array(await Bun.file(join(root, 'chunks', key)).arrayBuffer())
      expect(Buffer.from(written).equals(Buffer.from(patternBytes(0, size)))).toBe(true)
    }
  })

  test('a put never replaces an object: it fails with BlobExistsError and the first stays', async () => {
    const store = createDiskBlobStore(join(root, 'once'))
    await store.put('object', patternStream(3000).stream)
    await expect(store.put('object', patternStream(10).stream)).rejects.toBeInstanceOf(BlobExistsError)
    const kept = new Uint8Array(await Bun.file(join(root, 'once', 'object')).arrayBuffer())
    expect(Buffer.from(kept).equals(Buffer.from(patternBytes(0, 3000)))).toBe(true)
    expect(filesUnder(join(root, 'once'))).toEqual(['object'])
  })

  test('creates its directory and keeps objects as files named by their key', async () => {
    const dir = join(root, 'made', 'here')
    const store = createDiskBlobStore(dir)
    await store.put('tenant/0f8fad5b-d9cb-469f-a165-70867728950e', patternStream(5).stream)
    expect(filesUnder(dir)).toEqual(['tenant/0f8fad5b-d9cb-469f-a165-70867728950e'])
  })

  test('the temp file of a put in progress is neither listed nor visible, and is gone after', async () => {
    const dir = join(root, 'progress')
    const store = createDiskBlobStore(dir)
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let pulled = 0
    const source = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pulled++ === 1) await gate
        controller.enqueue(new Uint8Array(1000))
        if (pulled === 3) controller.close()
      },
    })
    const putting = store.put('obj', source)
    while (filesUnder(dir).length === 0) await Bun.sleep(5)
    expect(filesUnder(dir)[0]).toMatch(/^\.obj\.[0-9a-f-]{36}\.tmp$/)
    const listed = []
    for await (const entry of store.list()) listed.push(entry.key)
    expect(listed).toEqual([])
    release()
    await putting
    expect(filesUnder(dir)).toEqual(['obj'])
    expect(Bun.file(join(dir, 'obj')).size).toBe(3000)
  })

  test('removeStaleTemp removes old temp files only, never objects', async () => {
    const dir = join(root, 'stale')
    const store = createDiskBlobStore(dir)
    await store.put('kept', patternStream(10).stream)
    mkdirSync(join(dir, 'sub'))
    const old = join(dir, 'sub', '.obj.0f8fad5b-d9cb-469f-a165-70867728950e.tmp')
    const fresh = join(dir, '.obj.7c9e6679-7425-40de-944b-e07fc1f90ae7.tmp')
    writeFileSync(old, 'partial')
    writeFileSync(fresh, 'partial')
    const hourAgo = new Date(Date.now() - 3600_000)
    utimesSync(old, hourAgo, hourAgo)
    utimesSync(join(dir, 'kept'), hourAgo, hourAgo)
    expect(await store.removeStaleTemp!(new Date(Date.now() - 60_000))).toBe(1)
    expect(filesUnder(dir).sort()).toEqual(['.obj.7c9e6679-7425-40de-944b-e07fc1f90ae7.tmp', 'kept'])
  })

  test('list and removeStaleTemp cope with a root that was removed', async () => {
    const dir = join(root, 'gone')
    const store = createDiskBlobStore(dir)
    rmSync(dir, { recursive: true })
    const listed = []
    for await (const entry of store.list()) listed.push(entry)
    expect(listed).toEqual([])
    expect(await store.removeStaleTemp!(new Date())).toBe(0)
  })

  test('has no presigned links', () => {
    expect(createDiskBlobStore(join(root, 'plain')).presignGet).toBeUndefined()
  })
})
