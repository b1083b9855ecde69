import { type ArtifactMeta, type InflateLimits, readArtifact } from '../../artifact/reader.ts'
import type { BlobStore } from '../../storage/blobs.ts'

/**
 * How many bytes of an upload may wait between the parser and the blob store. The parser runs
 * ahead of the store's writes by up to this much, so hashing and decompression overlap the writes
 * instead of taking turns with them; beyond it the parser (and so the client) waits.
 */
const IN_FLIGHT_BYTES = 2 * 1024 * 1024

/**
 * A stream the parser feeds and the blob store drains, with backpressure: `write` resolves once
 * fewer than `limit` bytes are queued, and rejects once the store has given up reading.
 */
function createBytePipe(limit: number) {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let wake: (() => void) | undefined
  // An object, so that what the callbacks set is seen after each await.
  const state: { failure?: { reason: unknown } } = {}
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
      },
      pull() {
        wake?.()
      },
      cancel(reason) {
        state.failure ??= { reason: reason ?? new Error('the blob store stopped reading') }
        wake?.()
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: limit }),
  )
  const throwIfFailed = () => {
    if (state.failure) throw state.failure.reason
  }
  return {
    readable,
    async write(chunk: Uint8Array): Promise<void> {
      throwIfFailed()
      controller.enqueue(chunk)
      while ((controller.desiredSize ?? 0) <= 0) {
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
        throwIfFailed()
      }
    },
    /** The consumer failed: writers stop waiting. */
    fail(reason: unknown): void {
      state.failure ??= { reason }
      wake?.()
    },
    close: () => controller.close(),
    abort: (reason: unknown) => controller.error(reason),
  }
}

/**
 * Reads an artifact from `source` and writes the same bytes to `key` in one pass: each chunk goes
 * to the blob store and through the parser, which verifies every checksum on the way. Resolves once
 * both are done. On any failure (a bad artifact, a blob store error, a broken upload) the blob
 * store's write is aborted and awaited before the error is thrown, so nothing of it remains.
 */
export async function readAndStoreArtifact(
  blobs: BlobStore,
  key: string,
  source: AsyncIterable<Uint8Array>,
  maxSize: number,
  inflate?: InflateLimits,
): Promise<ArtifactMeta> {
  const pipe = createBytePipe(IN_FLIGHT_BYTES)
  const put = blobs.put(key, pipe.readable)
  let putFailure: { reason: unknown } | undefined
  const settled = put.then(
    () => undefined,
    (reason) => {
      putFailure = { reason }
      pipe.fail(reason)
    },
  )
  let meta: ArtifactMeta
  try {
    meta = await readArtifact(source, { maxSize, inflate, onBytes: (chunk) => pipe.write(chunk) })
  } catch (err) {
    // A store failure reaches the parser through `write`, so `err` names the first cause either way.
    pipe.abort(err)
    await settled
    throw err
  }
  pipe.close()
  await settled
  if (putFailure) throw putFailure.reason
  return meta
}
