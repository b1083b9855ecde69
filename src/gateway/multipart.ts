import { BadRequestError } from './errors.ts'

/** A malformed multipart body (400). */
export class MultipartError extends BadRequestError {}

export type MultipartPart = {
  /** The form field name, lower-cased; '' for a part that is not `form-data`. */
  name: string
  filename: string | undefined
  contentType: string | undefined
  /**
   * The part's content, as views of the request's own chunks (never copied). Read it before asking
   * for the next part; whatever is left unread is skipped then.
   */
  body: AsyncIterable<Uint8Array>
}

const CRLF = Buffer.from('\r\n')
const MAX_HEADER_BYTES = 16 * 1024
const MAX_BOUNDARY_LENGTH = 70

/** `key=value` and `key="quoted \"value\""` parameters of a header such as Content-Type. */
export function headerParams(header: string): Map<string, string> {
  const params = new Map<string, string>()
  for (const match of header.matchAll(/;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g)) {
    const value = match[2] === undefined ? (match[3] ?? '').trim() : match[2].replace(/\\(.)/g, '$1')
    params.set(match[1]!.toLowerCase(), value)
  }
  return params
}

/** The boundary of a multipart Content-Type; undefined when it is missing or not a valid one. */
export function multipartBoundary(contentType: string): string | undefined {
  const boundary = headerParams(contentType).get('boundary')
  if (!boundary || boundary.length > MAX_BOUNDARY_LENGTH || /[\r\n]/.test(boundary)) return undefined
  return boundary
}

const view = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Reads a multipart body (RFC 2046) part by part as it streams in: part contents are never
 * buffered, so a part can be any size. Delimiters split across chunks are found by looking at
 * the few bytes either side of each chunk boundary; only those bytes (and part headers) are ever
 * copied.
 */
export class MultipartReader {
  readonly #source: AsyncIterator<Uint8Array>
  readonly #delimiter: Buffer
  // The bytes after the opening CRLF are the body's own; the CRLF lets the first boundary line be
  // found like every later one, with or without a preamble before it.
  #pending: Uint8Array = CRLF
  #ended = false
  /** Before the first delimiter: a body that ends here simply has no parts. */
  #preamble = true
  #inPart = true
  #finished = false

  constructor(source: AsyncIterable<Uint8Array>, boundary: string) {
    this.#source = source[Symbol.asyncIterator]()
    this.#delimiter = Buffer.from(`\r\n--${boundary}`)
  }

  /** The next part; null after the closing delimiter (or at the end of a body without any part). */
  async next(): Promise<MultipartPart | null> {
    if (this.#finished) return null
    if (this.#inPart) {
      for await (const _ of this.#partBody());
      if (this.#finished) return null
    }
    this.#preamble = false
    const after = await this.#read(2)
    if (after[0] === 0x2d && after[1] === 0x2d) {
      this.#finished = true
      return null
    }
    this.#unread(after)
    // Only transport padding (spaces, tabs) may follow a boundary on its line.
    if (!/^[ \t]*$/.test(await this.#readLine()))
      throw new MultipartError('multipart: malformed boundary line')
    const headers = new Map<string, string>()
    let headerBytes = 0
    for (;;) {
      const line = await this.#readLine()
      headerBytes += line.length + 2
      if (headerBytes > MAX_HEADER_BYTES) throw new MultipartError('multipart: part headers too large')
      if (line === '') break
      const colon = line.indexOf(':')
      if (colon <= 0) throw new MultipartError('multipart: malformed part header')
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
    }
    const disposition = headers.get('content-disposition') ?? ''
    const params = headerParams(disposition)
    const isForm = disposition.split(';')[0]!.trim().toLowerCase() === 'form-data'
    this.#inPart = true
    return {
      name: isForm ? (params.get('name') ?? '').toLowerCase() : '',
      filename: params.get('filename'),
      contentType: headers.get('content-type'),
      body: this.#partBody(),
    }
  }

  /** Tells the source that nothing more will be read. */
  async cancel(): Promise<void> {
    this.#finished = true
    await Promise.resolve(this.#source.return?.()).catch(() => undefined)
  }

  /** Yields the current part's bytes up to the next delimiter, which it consumes. */
  async *#partBody(): AsyncGenerator<Uint8Array> {
    const delimiter = this.#delimiter
    const keep = delimiter.length - 1
    for (;;) {
      const at = view(this.#pending).indexOf(delimiter)
      if (at >= 0) {
        if (at > 0) yield this.#pending.subarray(0, at)
        this.#pending = this.#pending.subarray(at + delimiter.length)
        this.#inPart = false
        return
      }
      // Everything but a possible start of the delimiter at the end is content.
      const safe = this.#pending.length - keep
      if (safe > 0) {
        yield this.#pending.subarray(0, safe)
        this.#pending = this.#pending.subarray(safe)
      }
      const chunk = await this.#pull()
      if (chunk === null) {
        if (this.#preamble) {
          this.#finished = true
          return
        }
        throw new MultipartError('multipart: unexpected end of body')
      }
      if (chunk.length < delimiter.length) {
        this.#pending = Buffer.concat([this.#pending, chunk])
        continue
      }
      // A delimiter starting in the held-back tail ends within the chunk's first bytes.
      const tail = this.#pending
      const seam = Buffer.concat([tail, chunk.subarray(0, keep)])
      const across = seam.indexOf(delimiter)
      if (across >= 0) {
        if (across > 0) yield tail.subarray(0, across)
        this.#pending = chunk.subarray(across + delimiter.length - tail.length)
        this.#inPart = false
        return
      }
      if (tail.length > 0) yield tail
      this.#pending = chunk
    }
  }

  async #pull(): Promise<Uint8Array | null> {
    while (!this.#ended) {
      const next = await this.#source.next()
      if (next.done) this.#ended = true
      else if (next.value.length > 0) return next.value
    }
    return null
  }

  /** Exactly `size` bytes (small reads only). */
  async #read(size: number): Promise<Uint8Array> {
    while (this.#pending.length < size) {
      const chunk = await this.#pull()
      if (chunk === null) throw new MultipartError('multipart: unexpected end of body')
      this.#pending = Buffer.concat([this.#pending, chunk])
    }
    const out = this.#pending.subarray(0, size)
    this.#pending = this.#pending.subarray(size)
    return out
  }

  #unread(bytes: Uint8Array): void {
    this.#pending = Buffer.concat([bytes, this.#pending])
  }

  /** One CRLF-terminated header line, without the CRLF. */
  async #readLine(): Promise<string> {
    for (;;) {
      const at = view(this.#pending).indexOf(CRLF)
      if (at >= 0) {
        const line = view(this.#pending).toString('latin1', 0, at)
        this.#pending = this.#pending.subarray(at + 2)
        return line
      }
      if (this.#pending.length > MAX_HEADER_BYTES)
        throw new MultipartError('multipart: part headers too large')
      const chunk = await this.#pull()
      if (chunk === null) throw new MultipartError('multipart: unexpected end of body')
      this.#pending = Buffer.concat([this.#pending, chunk])
    }
  }
}

/** A text part's value, refusing more than `limit` bytes (Mender allows 1 MiB for form values). */
export async function readPartText(part: MultipartPart, limit = 1024 * 1024): Promise<string> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of part.body) {
    size += chunk.length
    if (size > limit) throw new MultipartError(`failed to read form value '${part.name}': too large`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
