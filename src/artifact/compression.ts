import { XzReadableStream } from 'xz-decompress'
import { pullStream } from './chunks.ts'
import { ArtifactError } from './errors.ts'

/** The compressions mender-artifact writes, named by the member's suffix after `.tar`. */
export type Compression = 'none' | 'gzip' | 'xz' | 'zstd'

/** xz-embedded's status codes, which xz-decompress reports only as numbers. */
const XZ_ERRORS: Record<string, string> = {
  '2': 'unsupported integrity check',
  '4': 'needs a dictionary larger than 64 MiB',
  '5': 'not in xz format',
  '6': 'unsupported xz options',
  '7': 'corrupt data',
  '8': 'truncated or followed by garbage',
}

const BY_SUFFIX: Record<string, Compression> = { '': 'none', '.gz': 'gzip', '.xz': 'xz', '.zst': 'zstd' }

/** The compression of a member named `<base>.tar[.gz|.xz|.zst]`, or undefined when the name is another. */
export function compressionOf(name: string, base: string): Compression | undefined {
  if (!name.startsWith(`${base}.tar`)) return undefined
  return BY_SUFFIX[name.slice(base.length + 4)]
}

/**
 * The decompressed bytes of `input`, produced as they are pulled: nothing is read ahead of the
 * consumer, so memory stays at a chunk or two whatever the payload size. gzip and zstd use Bun's
 * native DecompressionStream. xz uses `xz-decompress` (xz-embedded compiled to WebAssembly, shipped
 * inline in the package): it works in `bun build --compile` binaries where a native addon would not,
 * and it caps the LZMA2 dictionary at 64 MiB (what mender-artifact writes), so a hostile stream cannot
 * make it allocate more.
 *
 * An error of `input` itself (a truncated artifact) comes out unchanged; a damaged compressed stream
 * becomes an ArtifactError naming `label`.
 */
export async function* decompress(
  input: AsyncIterable<Uint8Array>,
  compression: Compression,
  label: string,
): AsyncGenerator<Uint8Array> {
  if (compression === 'none') {
    yield* input
    return
  }
  let inputError: unknown
  // Pulled only when the decompressor asks: a read-ahead would race the tar reader for the same bytes.
  const compressed = pullStream(
    (async function* () {
      try {
        yield* input
      } catch (err) {
        inputError = err
        throw err
      }
    })(),
  )
  const output = compression === 'xz' ? new XzReadableStream(compressed) : inflate(compressed, compression)
  const reader = output.getReader()
  let finished = false
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>
      try {
        result = await reader.read()
      } catch (err) {
        if (inputError !== undefined) throw inputError
        throw new ArtifactError(`${label}: invalid ${compression} data (${describe(err)})`)
      }
      if (result.done) break
      yield result.value
    }
    finished = true
  } finally {
    // Stopping early must cancel: the xz decoder is one shared WebAssembly instance that is released
    // only when its stream ends or is cancelled.
    if (!finished) reader.cancel().catch(() => undefined)
  }
}

function inflate(input: ReadableStream<Uint8Array>, format: 'gzip' | 'zstd'): ReadableStream<Uint8Array> {
  const { writable, readable } = new DecompressionStream(format)
  return input.pipeThrough({ writable: writable as WritableStream<Uint8Array>, readable })
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const xzCode = /get_next_output failed with error code (\d+)/.exec(message)?.[1]
  if (xzCode !== undefined) return XZ_ERRORS[xzCode] ?? message
  // xz-decompress dereferences a missing chunk when its input ends before the first byte.
  if (err instanceof TypeError) return 'truncated'
  return message
}
