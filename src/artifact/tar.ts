import type { ChunkReader } from './chunks.ts'
import { ArtifactError } from './errors.ts'

export const TAR_BLOCK = 512
/** Two zero blocks close an archive. */
export const TAR_END = new Uint8Array(2 * TAR_BLOCK)
/** Real pax records and GNU long names hold a path or two; anything bigger is refused unread. */
const MAX_EXTENSION_SIZE = 64 * 1024
/** Extension headers (pax, GNU long name) in a row before a real entry; more is a loop, not an archive. */
const MAX_EXTENSION_CHAIN = 16
/** The largest size an octal ustar field can hold (11 digits); bigger sizes use base-256. */
const MAX_OCTAL_SIZE = 0o77777777777

export type TarEntryType = 'file' | 'directory' | 'link' | 'other'

export type TarEntry = {
  /** The member's path, from pax `path`, a GNU long name, or ustar prefix + name; never absolute, no `..`. */
  name: string
  type: TarEntryType
  size: number
  /** Modification time in seconds since the epoch (pax times may have a fraction). */
  mtime: number
  /**
   * The member's bytes, streamed from the archive. Read it, or not, before asking for the next entry;
   * whatever is left unread is skipped then, and the iterator is dead from that point on.
   */
  body: AsyncIterable<Uint8Array>
}

type RawHeader = { name: string; typeflag: string; size: number; mtime: number }
type Overrides = { path?: string; size?: number; mtime?: number }

const utf8 = new TextDecoder()
const utf8Encoder = new TextEncoder()

/**
 * A streaming reader of POSIX (ustar and pax) and GNU tar archives. It holds one header block and at
 * most one bounded extension record in memory; member bodies stream straight from the source.
 */
export class TarReader {
  #remaining = 0
  #padding = 0
  #serial = 0
  #ended = false

  constructor(readonly bytes: ChunkReader) {}

  /** The next member, or `null` at the end of the archive. */
  async next(): Promise<TarEntry | null> {
    await this.bytes.skip(this.#remaining + this.#padding)
    this.#remaining = 0
    this.#padding = 0
    this.#serial++
    if (this.#ended) return null
    const overrides: Overrides = {}
    for (let chain = 0; ; chain++) {
      if (chain > MAX_EXTENSION_CHAIN) this.#fail('too many extension headers in a row')
      const block = await this.bytes.readExact(TAR_BLOCK)
      // Like Go's archive/tar, a clean end of data between members counts as the end of the archive.
      if (block === null) return this.#end()
      if (isZero(block)) {
        const second = await this.bytes.readExact(TAR_BLOCK)
        if (second !== null && !isZero(second)) this.#fail('damaged end-of-archive marker')
        return this.#end()
      }
      const header = parseHeader(block, this.bytes.label)
      switch (header.typeflag) {
        case 'x':
          applyPax(await this.#readExtension(header.size), overrides, this.bytes.label)
          break
        case 'g':
        case 'K':
          // Global pax defaults and GNU long link names change nothing this reader reports.
          await this.#readExtension(header.size)
          break
        case 'L':
          overrides.path = cString(await this.#readExtension(header.size), 0)
          break
        default:
          return this.#entry(header, overrides)
      }
    }
  }

  #entry(header: RawHeader, overrides: Overrides): TarEntry {
    let name = overrides.path ?? header.name
    const size = overrides.size ?? header.size
    let type = entryType(header.typeflag)
    if (type === 'file' && name.endsWith('/')) type = 'directory'
    if (type === 'directory') name = name.replace(/\/+$/, '')
    checkName(name, this.bytes.label)
    this.#remaining = size
    this.#padding = padding(size)
    return {
      name,
      type,
      size,
      mtime: overrides.mtime ?? header.mtime,
      body: this.#body(this.#serial),
    }
  }

  #body(serial: number): AsyncIterable<Uint8Array> {
    const next = async (): Promise<IteratorResult<Uint8Array>> => {
      if (serial !== this.#serial || this.#remaining === 0) return { done: true, value: undefined }
      const chunk = await this.bytes.read(this.#remaining)
      if (chunk === null) this.#fail('unexpected end of data inside a member')
      this.#remaining -= chunk.byteLength
      return { done: false, value: chunk }
    }
    return { [Symbol.asyncIterator]: () => ({ next }) }
  }

  async #readExtension(size: number): Promise<Uint8Array> {
    if (size > MAX_EXTENSION_SIZE) this.#fail(`extension header of ${size} bytes is too large`)
    const data = (await this.bytes.readExact(size)) ?? new Uint8Array(0)
    if (data.byteLength !== size) this.#fail('unexpected end of data inside a member')
    await this.bytes.skip(padding(size))
    return data
  }

  #end(): null {
    this.#ended = true
    return null
  }

  #fail(message: string): never {
    throw new ArtifactError(`${this.bytes.label}: ${message}`)
  }
}

/** Reads a whole member that is expected to be small (JSON, a manifest); larger ones are refused unread. */
export async function readSmallEntry(entry: TarEntry, limit: number, label: string): Promise<Uint8Array> {
  if (entry.size > limit) throw new ArtifactError(`${label}: ${entry.name} is larger than ${limit} bytes`)
  const out = new Uint8Array(entry.size)
  let filled = 0
  for await (const chunk of entry.body) {
    out.set(chunk, filled)
    filled += chunk.byteLength
  }
  return out
}

export function padding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK
}

function entryType(typeflag: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7':
      return 'file'
    case '5':
      return 'directory'
    case '1':
    case '2':
      return 'link'
    default:
      return 'other'
  }
}

function parseHeader(block: Uint8Array, label: string): RawHeader {
  const storedText = ascii(block, 148, 8).replace(/^[\0 ]+|[\0 ]+$/g, '')
  const stored = /^[0-7]{1,7}$/.test(storedText) ? Number.parseInt(storedText, 8) : -1
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < TAR_BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0)
    unsigned += byte
    signed += byte > 127 ? byte - 256 : byte
  }
  if (stored !== unsigned && stored !== signed) {
    throw new ArtifactError(`${label}: not a tar archive (header checksum mismatch)`)
  }
  let name = cString(block, 0, 100)
  // POSIX ustar splits long names into prefix + name; the GNU format ("ustar  ") has no prefix field.
  if (ascii(block, 257, 6) === 'ustar\0') {
    const prefix = cString(block, 345, 155)
    if (prefix !== '') name = `${prefix}/${name}`
  }
  return {
    name,
    typeflag: String.fromCharCode(block[156] ?? 0),
    size: parseNumber(block, 124, 12, label, 'size'),
    mtime: parseNumber(block, 136, 12, label, 'mtime'),
  }
}

/** An octal field, or GNU base-256 (high bit set on the first byte) for values octal cannot hold. */
function parseNumber(
  block: Uint8Array,
  offset: number,
  length: number,
  label: string,
  field: string,
): number {
  const first = block[offset] ?? 0
  if (first & 0x80) {
    if (first === 0xff) throw new ArtifactError(`${label}: negative tar ${field}`)
    let value = first & 0x7f
    for (let i = 1; i < length; i++) value = value * 256 + (block[offset + i] ?? 0)
    if (!Number.isSafeInteger(value)) throw new ArtifactError(`${label}: tar ${field} out of range`)
    return value
  }
  const text = ascii(block, offset, length).replace(/^[\0 ]+|[\0 ]+$/g, '')
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw new ArtifactError(`${label}: not a tar archive (bad ${field} field)`)
  return Number.parseInt(text, 8)
}

/** pax records: `<length> <key>=<value>\n`, where length counts the whole record. */
function applyPax(data: Uint8Array, overrides: Overrides, label: string): void {
  const bad = (): never => {
    throw new ArtifactError(`${label}: malformed pax header`)
  }
  let pos = 0
  while (pos < data.byteLength) {
    let space = pos
    while (space < data.byteLength && space - pos < 20 && data[space] !== 0x20) space++
    const digits = ascii(data, pos, space - pos)
    if (!/^[1-9][0-9]*$/.test(digits)) bad()
    const length = Number(digits)
    if (pos + length > data.byteLength || data[pos + length - 1] !== 0x0a) bad()
    const record = utf8.decode(data.subarray(space + 1, pos + length - 1))
    const eq = record.indexOf('=')
    if (eq <= 0) bad()
    const key = record.slice(0, eq)
    const value = record.slice(eq + 1)
    if (key === 'path') overrides.path = value
    else if (key === 'size') {
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) bad()
      overrides.size = Number(value)
    } else if (key === 'mtime') {
      if (!/^-?[0-9]+(\.[0-9]+)?$/.test(value)) bad()
      overrides.mtime = Number(value)
    } else if (key.startsWith('GNU.sparse.')) {
      throw new ArtifactError(`${label}: sparse tar members are not supported`)
    }
    pos += length
  }
}

function checkName(name: string, label: string): void {
  if (name === '') throw new ArtifactError(`${label}: tar member with an empty name`)
  if (name.includes('\0')) throw new ArtifactError(`${label}: tar member name contains a NUL byte`)
  if (name.startsWith('/')) throw new ArtifactError(`${label}: absolute path in tar member: ${name}`)
  if (name.split('/').includes('..'))
    throw new ArtifactError(`${label}: path traversal in tar member: ${name}`)
}

function isZero(block: Uint8Array): boolean {
  for (const byte of block) if (byte !== 0) return false
  return true
}

function cString(bytes: Uint8Array, offset: number, length = bytes.byteLength - offset): string {
  const field = bytes.subarray(offset, offset + length)
  const end = field.indexOf(0)
  return utf8.decode(end === -1 ? field : field.subarray(0, end))
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length))
}

export type TarHeaderFields = { name: string; size: number; mtime: number }

/**
 * The header block(s) of one regular-file member: a ustar block, preceded by a pax record when the
 * name does not fit ustar's 100 bytes. Sizes past octal's 8 GiB are written in base-256, as GNU tar does.
 */
export function tarHeader(fields: TarHeaderFields): Uint8Array {
  const name = utf8Encoder.encode(fields.name)
  if (name.byteLength <= 100) return ustarBlock(name, '0', fields)
  const record = paxRecord('path', fields.name)
  const pax = ustarBlock(utf8Encoder.encode('PaxHeaders/entry'), 'x', { ...fields, size: record.byteLength })
  const out = new Uint8Array(2 * TAR_BLOCK + record.byteLength + padding(record.byteLength))
  out.set(pax, 0)
  out.set(record, TAR_BLOCK)
  out.set(ustarBlock(name.subarray(0, 100), '0', fields), out.byteLength - TAR_BLOCK)
  return out
}

function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`
  const bodyLength = utf8Encoder.encode(body).byteLength
  let length = bodyLength + 1
  while (String(length).length + bodyLength !== length) length++
  return utf8Encoder.encode(`${length}${body}`)
}

function ustarBlock(name: Uint8Array, typeflag: string, fields: TarHeaderFields): Uint8Array {
  const block = new Uint8Array(TAR_BLOCK)
  block.set(name, 0)
  writeOctal(block, 100, 8, 0o644)
  writeOctal(block, 108, 8, 0)
  writeOctal(block, 116, 8, 0)
  if (fields.size <= MAX_OCTAL_SIZE) writeOctal(block, 124, 12, fields.size)
  else writeBase256(block, 124, 12, fields.size)
  writeOctal(block, 136, 12, Math.max(0, Math.floor(fields.mtime)))
  block[156] = typeflag.charCodeAt(0)
  block.set(utf8Encoder.encode('ustar\x0000'), 257)
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of block) sum += byte
  writeOctal(block, 148, 7, sum)
  return block
}

/** `length - 1` zero-padded octal digits and a NUL. */
function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  block.set(utf8Encoder.encode(`${value.toString(8).padStart(length - 1, '0')}\0`), offset)
}

function writeBase256(block: Uint8Array, offset: number, length: number, value: number): void {
  let rest = value
  for (let i = offset + length - 1; i > offset; i--) {
    block[i] = rest % 256
    rest = Math.floor(rest / 256)
  }
  block[offset] = 0x80
}
