/**
 * A byte range as HTTP states it: `{ start }` is `N-`, `{ start, end }` is `N-M` (end inclusive,
 * clamped to the object), `{ suffix }` is `-N` (the last N bytes).
 */
export type ByteRange = { start: number; end?: number } | { suffix: number }

export type BlobInfo = { size: number; mtime: Date }

export type BlobEntry = { key: string; mtime: Date }

/** What `get` returns: the requested bytes of an object, where they sit in it, and its whole size. */
export type BlobContent = {
  /**
   * A Blob where the backend has one (the disk store's is a file slice, which Bun.serve sends
   * with sendfile), otherwise a stream. Either goes straight into `new Response(...)`.
   */
  body: Blob | ReadableStream<Uint8Array>
  size: number
  start: number
  /** Inclusive; `start - 1` for an empty object. */
  end: number
}

export type PresignOptions = { expiresInSeconds: number; filename?: string }

/**
 * Where artifacts live. Keys are opaque strings of path-like segments (`<uuid>`,
 * `<tenant>/<uuid>`); see `assertBlobKey`. Objects are immutable once written.
 */
export type BlobStore = {
  /**
   * Streams `source` into a new object; it becomes visible only once complete. An object never
   * replaces another: when one already exists under `key` at the end, the put fails with
   * BlobExistsError and the existing object stays.
   */
  put(key: string, source: ReadableStream<Uint8Array>): Promise<void>
  /** `undefined` when there is no such object; throws RangeNotSatisfiableError for a range past the end. */
  get(key: string, range?: ByteRange): Promise<BlobContent | undefined>
  stat(key: string): Promise<BlobInfo | undefined>
  /** Removing a missing object is not an error. */
  delete(key: string): Promise<void>
  /** Every complete object whose key starts with `prefix`, in no particular order. */
  list(prefix?: string): AsyncIterable<BlobEntry>
  /** A URL anyone can GET the object from until it expires; only backends that can sign one have it. */
  presignGet?(key: string, options: PresignOptions): Promise<string>
  /**
   * Removes what interrupted puts left behind (disk: temp files) older than `olderThan`, or all of
   * it when `olderThan` is absent (nothing can be in flight); returns how many.
   */
  removeStaleTemp?(olderThan?: Date): Promise<number>
  /** Throws when the store cannot be used right now (disk: its directory is not writable; S3: the bucket does not answer). */
  ping(): Promise<void>
  close(): void
}

export const ARTIFACT_CONTENT_TYPE = 'application/vnd.mender-artifact'

export class InvalidBlobKeyError extends Error {
  constructor(key: string) {
    super(`invalid blob key ${JSON.stringify(key)}`)
  }
}

export class BlobExistsError extends Error {
  constructor(key: string) {
    super(`an object already exists under ${JSON.stringify(key)}`)
  }
}

export class RangeNotSatisfiableError extends Error {
  constructor(readonly size: number) {
    super(`range not satisfiable for an object of ${size} bytes`)
  }
}

// A segment never starts with a dot, so `.` and `..` are out and the disk store's dot-named temp
// files can never collide with, or be listed as, an object. 200 characters leave room for the
// temp file's suffix within a file system's 255-byte name limit.
const KEY_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/

/** True when `key` is 1-1024 characters of `/`-separated safe segments. */
export function isBlobKey(key: string): boolean {
  return key.length > 0 && key.length <= 1024 && key.split('/').every((s) => KEY_SEGMENT.test(s))
}

export function assertBlobKey(key: string): void {
  if (!isBlobKey(key)) throw new InvalidBlobKeyError(key)
}

/** The inclusive byte span `range` selects in an object of `size` bytes; undefined when it selects none. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } | undefined {
  if ('suffix' in range) {
    if (range.suffix <= 0 || size === 0) return undefined
    return { start: Math.max(0, size - range.suffix), end: size - 1 }
  }
  if (range.start >= size || (range.end !== undefined && range.end < range.start)) return undefined
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) }
}

/**
 * The `Content-Disposition` of a download: `filename`, or else the key's last segment plus
 * `.mender`, reduced to characters that are safe inside the quotes.
 */
export function attachmentDisposition(key: string, filename?: string): string {
  const name = filename ?? `${key.slice(key.lastIndexOf('/') + 1)}.mender`
  return `attachment; filename="${name.replace(/[^A-Za-z0-9._+-]/g, '_')}"`
}
