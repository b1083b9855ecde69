/** Deterministic test bytes: each position has its own value, so a shifted or truncated copy never matches. */
export function byteAt(position: number): number {
  return Math.imul(position + 1, 2654435761) >>> 24
}

export function patternBytes(start: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = byteAt(start + i)
  return out
}

/**
 * `total` pattern bytes in `chunkSize` pieces, made as they are pulled; `failAfter` makes the
 * stream error once that many bytes have gone out. `sent()` tells how far it got.
 */
export function patternStream(total: number, options: { chunkSize?: number; failAfter?: number } = {}) {
  const chunkSize = options.chunkSize ?? 64 * 1024
  let position = 0
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (options.failAfter !== undefined && position >= options.failAfter) {
        controller.error(new Error('source failed midway'))
        return
      }
      if (position >= total) {
        controller.close()
        return
      }
      const length = Math.min(chunkSize, total - position)
      controller.enqueue(patternBytes(position, length))
      position += length
    },
  })
  return { stream, sent: () => position }
}

/** Reads a body (Blob or stream) whole; fine for the few MiB tests use. */
export async function readAll(body: Blob | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer())
}

/** Polls until `condition` holds; tests use it to catch a put midway. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(5)
  }
}
