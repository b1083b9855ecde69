import { type FileHandle, open } from 'node:fs/promises'

/**
 * Writes all of `bytes` (a single write may take only part of them), at `position` or, without
 * one, at the file's current position.
 */
export async function writeAll(file: FileHandle, bytes: Uint8Array, position?: number): Promise<void> {
  let written = 0
  while (written < bytes.byteLength) {
    const at = position === undefined ? null : position + written
    written += (await file.write(bytes, written, bytes.byteLength - written, at)).bytesWritten
  }
}

/** Writes `chunks` to a new file at `path` (an existing one is an error), as they arrive; answers the size. */
export async function writeNewFile(path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  const file = await open(path, 'wx')
  let size = 0
  try {
    for await (const chunk of chunks) {
      await writeAll(file, chunk)
      size += chunk.byteLength
    }
  } finally {
    await file.close()
  }
  return size
}
