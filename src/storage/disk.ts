import { constants, mkdirSync } from 'node:fs'
import { access, type FileHandle, link, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, sep } from 'node:path'
import { writeAll } from '../files.ts'
import {
  assertBlobKey,
  BlobExistsError,
  type BlobInfo,
  type BlobStore,
  RangeNotSatisfiableError,
  resolveRange,
} from './blobs.ts'

const TEMP_NAME = /^\..+\.tmp$/

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}

async function statFile(path: string): Promise<BlobInfo | undefined> {
  try {
    const info = await stat(path)
    return info.isFile() ? { size: info.size, mtime: info.mtime } : undefined
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

const WRITE_BUFFER_BYTES = 1024 * 1024

/**
 * Copies a stream into `file` through two reused buffers, one filling while the other is written.
 * Request bodies arrive in chunks of a few hundred KiB at most: a write per
 * mebibyte costs a third of the CPU time of a write per chunk, and copying each chunk at once lets
 * it be collected young, where holding it until its write completes would leave it to the (much
 * later) full collections and grow the process by tens of megabytes during a large upload.
 */
async function writeStream(file: FileHandle, source: ReadableStream<Uint8Array>): Promise<void> {
  const buffers = [Buffer.allocUnsafe(WRITE_BUFFER_BYTES), Buffer.allocUnsafe(WRITE_BUFFER_BYTES)]
  let current = 0
  let filled = 0
  let writing: Promise<void> = Promise.resolve()
  const flush = async () => {
    // The other buffer is reused next: its write must be over.
    await writing
    writing = writeAll(file, buffers[current]!.subarray(0, filled))
    current ^= 1
    filled = 0
  }
  try {
    for await (const chunk of source) {
      for (let at = 0; at < chunk.byteLength; ) {
        const n = Math.min(chunk.byteLength - at, WRITE_BUFFER_BYTES - filled)
        buffers[current]!.set(chunk.subarray(at, at + n), filled)
        filled += n
        at += n
        if (filled === WRITE_BUFFER_BYTES) await flush()
      }
    }
    await flush()
    await writing
  } catch (err) {
    await writing.catch(() => {})
    throw err
  }
}

/** Every file under `root`, as paths relative to it; nothing when `root` does not exist yet. */
async function walk(root: string): Promise<string[]> {
  try {
    return await readdir(root, { recursive: true })
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}

/**
 * Objects are files under `root` named by their key. A put writes a dot-named temp file beside its
 * target and links it under the key at the end (a link, unlike a rename, fails when the key is
 * taken, so no object is ever replaced), so a crash or a failed upload never leaves a partial object
 * visible. Without fsync a power cut may lose a recent object, but never shows a torn one under
 * its key; the artifact row that refers to it is written only after the put returns.
 */
export function createDiskBlobStore(root: string): BlobStore {
  mkdirSync(root, { recursive: true })
  const pathOf = (key: string) => {
    assertBlobKey(key)
    return join(root, key)
  }

  return {
    async put(key, source) {
      const path = pathOf(key)
      await mkdir(dirname(path), { recursive: true })
      const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`)
      const file = await open(temp, 'wx')
      try {
        await writeStream(file, source)
        await file.close()
        await link(temp, path)
      } catch (err) {
        await file.close().catch(() => {})
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new BlobExistsError(key)
        throw err
      } finally {
        await rm(temp, { force: true })
      }
    },

    async get(key, range) {
      const path = pathOf(key)
      const info = await statFile(path)
      if (!info) return undefined
      const span = range ? resolveRange(range, info.size) : { start: 0, end: info.size - 1 }
      if (!span) throw new RangeNotSatisfiableError(info.size)
      return { body: Bun.file(path).slice(span.start, span.end + 1), size: info.size, ...span }
    },

    async stat(key) {
      return statFile(pathOf(key))
    },

    async delete(key) {
      try {
        await unlink(pathOf(key))
      } catch (err) {
        if (!isMissing(err)) throw err
      }
    },

    async *list(prefix = '') {
      for (const name of await walk(root)) {
        const key = name.split(sep).join('/')
        if (!key.startsWith(prefix) || key.split('/').some((segment) => segment.startsWith('.'))) continue
        const info = await statFile(join(root, name))
        if (info) yield { key, mtime: info.mtime }
      }
    },

    async removeStaleTemp(olderThan) {
      let removed = 0
      for (const name of await walk(root)) {
        if (!TEMP_NAME.test(basename(name))) continue
        const info = await statFile(join(root, name))
        if (info && (olderThan === undefined || info.mtime < olderThan)) {
          await rm(join(root, name), { force: true })
          removed++
        }
      }
      return removed
    },

    async ping() {
      await access(root, constants.W_OK)
    },

    close() {},
  }
}
