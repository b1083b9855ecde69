import { ArtifactError } from './errors.ts'

const EMPTY = new Uint8Array(0)

/**
 * Pull-based reading over a stream of byte chunks. A tar parser needs "exactly 512 bytes" and "at most
 * n bytes" reads, which plain async iteration does not give. Chunks are handed out as views of the
 * source's own buffers; bytes are copied only when an exact read spans two chunks.
 *
 * One reader has one consumer: calls must not overlap (the artifact reader awaits each before the next).
 */
export class ChunkReader {
  readonly #iterator: AsyncIterator<Uint8Array>
  #head: Uint8Array = EMPTY
  #ended = false

  constructor(
    source: AsyncIterable<Uint8Array>,
    /** Names the stream in error messages (e.g. `header.tar.gz`). */
    readonly label: string,
  ) {
    this.#iterator = source[Symbol.asyncIterator]()
  }

  /** The next bytes of the source, at most `max` of them; `null` once the source has ended. */
  async read(max: number): Promise<Uint8Array | null> {
    while (this.#head.byteLength === 0) {
      if (this.#ended) return null
      const next = await this.#iterator.next()
      if (next.done) {
        this.#ended = true
        return null
      }
      this.#head = next.value
    }
    const out = this.#head.byteLength <= max ? this.#head : this.#head.subarray(0, max)
    this.#head = this.#head.subarray(out.byteLength)
    return out
  }

  /**
   * Exactly `size` bytes; `null` when the source ends before the first of them (a clean end), and an
   * error when it ends part way.
   */
  async readExact(size: number): Promise<Uint8Array | null> {
    const first = await this.read(size)
    if (first === null || first.byteLength === size) return first
    const out = new Uint8Array(size)
    out.set(first)
    let filled = first.byteLength
    while (filled < size) {
      const more = await this.read(size - filled)
      if (more === null) throw new ArtifactError(`${this.label}: unexpected end of data`)
      out.set(more, filled)
      filled += more.byteLength
    }
    return out
  }

  /** Discards exactly `size` bytes; the source ending first is an error. */
  async skip(size: number): Promise<void> {
    let left = size
    while (left > 0) {
      const chunk = await this.read(left)
      if (chunk === null) throw new ArtifactError(`${this.label}: unexpected end of data`)
      left -= chunk.byteLength
    }
  }

  /** Reads and discards everything left, returning how many bytes that was. */
  async drain(): Promise<number> {
    let total = 0
    for (let chunk = await this.read(Infinity); chunk; chunk = await this.read(Infinity)) {
      total += chunk.byteLength
    }
    return total
  }

  /**
   * Tells the source that nothing more will be read. Not awaited by callers on error paths: a source
   * stalled in a pending read (a slow client) would otherwise hold the error response back.
   */
  cancel(): Promise<void> {
    this.#ended = true
    this.#head = EMPTY
    return Promise.resolve(this.#iterator.return?.())
      .then(() => undefined)
      .catch(() => undefined)
  }
}

/**
 * A web stream over `chunks` that pulls only when its reader asks (no read-ahead), for APIs that take
 * a ReadableStream (DecompressionStream, CompressionStream, xz-decompress).
 */
export function pullStream(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await iterator.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      cancel() {
        void Promise.resolve(iterator.return?.()).catch(() => undefined)
      },
    },
    { highWaterMark: 0 },
  )
}
