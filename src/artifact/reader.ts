import { ChunkReader } from './chunks.ts'
import { type Compression, compressionOf, decompress } from './compression.ts'
import { ArtifactError, ArtifactTooLargeError } from './errors.ts'
import {
  type ArtifactInfo,
  type Depends,
  type HeaderInfo,
  type JsonObject,
  mergeDistinct,
  overlay,
  type Provides,
  parseAugmentPayloadTypes,
  parseFileList,
  parseHeaderInfo,
  parseMetaData,
  parseTypeInfo,
  parseVersion,
  type TypeInfo,
} from './header.ts'
import { Manifest, verifyChecksum } from './manifest.ts'
import { readSmallEntry, type TarEntry, TarReader } from './tar.ts'

/** One payload file as the Deployments API shows it. */
export type ArtifactFile = { name: string; checksum: string; size: number; date: string }

export type ArtifactUpdate = {
  /** The payload type (`rootfs-image`, an update module's name), `null` for an empty payload. */
  type_info: { type: string | null }
  files: ArtifactFile[]
  /** The payload's meta-data; absent when it has none. */
  metadata?: JsonObject
}

/** What the server keeps about an artifact, named as in Mender's artifact JSON. */
export type ArtifactMeta = {
  name: string
  device_types_compatible: string[]
  info: ArtifactInfo
  /** `manifest.sig` is present; the signature itself is the device's business and is not verified. */
  signed: boolean
  updates: ArtifactUpdate[]
  /** Format 3 only: header-info provides merged with every payload's. */
  artifact_provides?: Provides
  /** Format 3 only: header-info depends (always with `device_type`) merged with every payload's. */
  artifact_depends?: Depends
  /** Format 3 only, and only when a payload clears something. */
  clears_artifact_provides?: string[]
  /** Bytes read from the source, trailing tar padding included. */
  size: number
}

export type ReadArtifactOptions = {
  /**
   * Receives every chunk of the raw artifact, in order, before the parser looks at it (the reader
   * never modifies a chunk, so keeping a reference to it for a later write is safe);
   * the next chunk is not pulled until the returned promise settles, so a slow consumer slows the
   * source down rather than letting chunks pile up. Its error aborts the read.
   */
  onBytes?: (chunk: Uint8Array) => void | Promise<void>
  /**
   * How far a compressed payload may inflate: at most `ratio` times its compressed size (but always
   * up to 64 MiB, so small, very compressible payloads pass) and never past `maxSize`.
   * Beyond that it is a decompression bomb (400). Unbounded when absent.
   */
  inflate?: InflateLimits
  /** More bytes than this fail with ArtifactTooLargeError (413) as soon as they arrive. */
  maxSize?: number
}

const MAX_VERSION_SIZE = 4096
const MAX_MANIFEST_SIZE = 1024 * 1024
const MAX_SIGNATURE_SIZE = 64 * 1024
/** A header holds JSON and state scripts; one that inflates past this is a compression bomb. */
const MAX_HEADER_SIZE = 8 * 1024 * 1024
/** mender-artifact's rule for payload file names (Go's `\w` is ASCII, as is JavaScript's). */
export const PAYLOAD_FILE_NAME = /^[\w\-.,]+$/

export type InflateLimits = { ratio: number; maxSize: number }
/** What any payload may inflate to whatever its ratio: decoding this much costs well under a second. */
const INFLATE_FLOOR = 64 * 1024 * 1024

type Payload = {
  type: string | null
  typeInfo?: TypeInfo
  metaData?: JsonObject
  augmentTypeInfo?: TypeInfo
  augmentMetaData?: JsonObject
  /** Size and date of each file, by name, filled in as the data arrives. */
  files: Map<string, { size: number; date: string }>
}

type Header = { info: HeaderInfo; payloads: Payload[] }

/**
 * Reads a `.mender` artifact (format 2 or 3) from a stream in one pass, verifying every checksum in
 * its manifest as the bytes go by, and returns what the server stores about it.
 *
 * Memory stays bounded whatever the artifact's size: payloads are decompressed and hashed chunk by
 * chunk and never held; only small members (version, manifest, header JSON, capped) are buffered.
 * To store an upload while parsing it, pass the store's writer as `onBytes`: the bytes then flow once,
 * into the store and through the parser, at the pace of the slower of the two. On any error the
 * stored bytes are the caller's to delete.
 *
 * Hostile input fails with an ArtifactError (400): not a tar, members out of order, a checksum that
 * does not match, a manifest entry missing or a member not listed, an unknown format version, path
 * traversal in any tar, oversized or endless tar headers, and a header that inflates past 8 MiB.
 */
export async function readArtifact(
  source: AsyncIterable<Uint8Array>,
  options: ReadArtifactOptions = {},
): Promise<ArtifactMeta> {
  const { onBytes, maxSize, inflate } = options
  let size = 0
  async function* metered(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      size += chunk.byteLength
      if (maxSize !== undefined && size > maxSize) throw new ArtifactTooLargeError()
      if (onBytes) await onBytes(chunk)
      yield chunk
    }
  }
  const bytes = new ChunkReader(metered(), 'artifact')
  try {
    const meta = await readMembers(new TarReader(bytes), inflate)
    // What follows the end-of-archive marker (tar's record padding) is still part of the upload.
    await bytes.drain()
    return { ...meta, size }
  } catch (err) {
    void bytes.cancel()
    throw err
  }
}

async function readMembers(outer: TarReader, inflate?: InflateLimits): Promise<Omit<ArtifactMeta, 'size'>> {
  const first = await outer.next().catch((err: unknown) => {
    if (err instanceof ArtifactError) {
      throw new ArtifactError(`not a Mender artifact (${err.message.replace(/^artifact: /, '')})`)
    }
    throw err
  })
  if (first === null) throw new ArtifactError('not a Mender artifact: the file is empty')
  if (first.name !== 'version' || first.type !== 'file') {
    throw new ArtifactError(`not a Mender artifact: the first member is ${first.name}, expected version`)
  }
  const versionBytes = await readSmallEntry(first, MAX_VERSION_SIZE, 'artifact')
  const info = parseVersion(versionBytes)

  const manifest = new Manifest()
  const manifestEntry = expectMember(await outer.next(), 'manifest')
  manifest.add(await readSmallEntry(manifestEntry, MAX_MANIFEST_SIZE, 'artifact'), false)
  verifyChecksum(manifest.take('version'), sha256(versionBytes))

  let entry = await outer.next()
  let signed = false
  if (entry?.name === 'manifest.sig') {
    signed = true
    await readSmallEntry(entry, MAX_SIGNATURE_SIZE, 'artifact')
    entry = await outer.next()
  }
  let augmented = false
  if (info.version === 3 && entry?.name === 'manifest-augment') {
    augmented = true
    manifest.add(await readSmallEntry(entry, MAX_MANIFEST_SIZE, 'artifact'), true)
    entry = await outer.next()
  }

  const header = await readHeader(expectTar(entry, 'header'), manifest, (tar, label) =>
    readHeaderMembers(tar, label, info.version),
  )
  entry = await outer.next()
  if (augmented) {
    await readHeader(expectTar(entry, 'header-augment'), manifest, (tar, label) =>
      readAugmentMembers(tar, label, header),
    )
    entry = await outer.next()
  }

  checkDataEntries(manifest, header.payloads.length)
  let previous = -1
  for (; entry !== null; entry = await outer.next()) {
    const match = /^data\/(\d{4})\.tar/.exec(entry.name)
    const compression = compressionOf(entry.name, `data/${match?.[1]}`)
    if (!match?.[1] || !compression || entry.type !== 'file') {
      throw new ArtifactError(`wrong artifact structure: unexpected member ${entry.name}`)
    }
    const index = Number(match[1])
    const payload = header.payloads[index]
    if (!payload) {
      throw new ArtifactError(`${entry.name}: the header declares only ${header.payloads.length} payload(s)`)
    }
    if (index <= previous) throw new ArtifactError(`${entry.name}: payload data out of order`)
    previous = index
    await readData(entry, compression, match[1], payload, manifest, inflate)
  }
  manifest.checkAllSeen()
  return toArtifactMeta(info, signed, header, manifest)
}

/** The next outer member, which must be `name`. */
function expectMember(entry: TarEntry | null, name: string): TarEntry {
  if (entry === null) throw new ArtifactError(`truncated artifact: ${name} is missing`)
  if (entry.name !== name || entry.type !== 'file') {
    throw new ArtifactError(`wrong artifact structure: expected ${name}, found ${entry.name}`)
  }
  return entry
}

/** The next outer member, which must be the tar `<base>.tar[.gz|.xz|.zst]`. */
function expectTar(entry: TarEntry | null, base: string): { entry: TarEntry; compression: Compression } {
  const name = `${base}.tar[.gz|.xz|.zst]`
  if (entry === null) throw new ArtifactError(`truncated artifact: ${name} is missing`)
  const compression = compressionOf(entry.name, base)
  if (compression === undefined || entry.type !== 'file') {
    throw new ArtifactError(`wrong artifact structure: expected ${name}, found ${entry.name}`)
  }
  return { entry, compression }
}

/**
 * Streams a (compressed) header tar through `parse`, hashing the raw member for its manifest checksum
 * and capping how far it may inflate.
 */
async function readHeader<T>(
  { entry, compression }: { entry: TarEntry; compression: Compression },
  manifest: Manifest,
  parse: (tar: TarReader, label: string) => Promise<T>,
): Promise<T> {
  const listed = manifest.take(entry.name)
  const hasher = new Bun.CryptoHasher('sha256')
  const raw = (async function* () {
    for await (const chunk of entry.body) {
      hasher.update(chunk)
      yield chunk
    }
  })()
  const inflated = capped(
    decompress(raw, compression, entry.name),
    MAX_HEADER_SIZE,
    `${entry.name}: the header`,
  )
  const inner = new ChunkReader(inflated, entry.name)
  let result: T
  try {
    result = await parse(new TarReader(inner), entry.name)
    await inner.drain()
  } catch (err) {
    void inner.cancel()
    throw err
  }
  // An xz decoder stops at the end of its stream; whatever follows still counts for the checksum.
  for await (const _ of raw);
  verifyChecksum(listed, hasher.digest('hex'))
  return result
}

/** Decompressed bytes that fail with an ArtifactError once more than `max` have come out. */
async function* capped(
  chunks: AsyncIterable<Uint8Array>,
  max: number,
  what: string,
): AsyncGenerator<Uint8Array> {
  let total = 0
  for await (const chunk of chunks) {
    total += chunk.byteLength
    if (total > max) throw new ArtifactError(`${what} inflates to more than ${max} bytes`)
    yield chunk
  }
}

/** How far a payload member of `compressedSize` bytes may inflate. */
function inflateLimit(limits: InflateLimits, compressedSize: number): number {
  return Math.min(limits.maxSize, Math.max(INFLATE_FLOOR, limits.ratio * compressedSize))
}

async function readHeaderMembers(tar: TarReader, label: string, version: number): Promise<Header> {
  const first = await tar.next()
  if (first === null || first.name !== 'header-info' || first.type !== 'file') {
    throw new ArtifactError(`${label}: the first member must be header-info`)
  }
  const info = parseHeaderInfo(await readSmallEntry(first, MAX_HEADER_SIZE, label), version)
  const payloads: Payload[] = info.payloadTypes.map((type) => ({ type, files: new Map() }))
  let scripts = true
  const seen = new Set<string>()
  for (let entry = await tar.next(); entry !== null; entry = await tar.next()) {
    if (entry.type === 'directory') continue
    if (entry.type !== 'file') throw new ArtifactError(`${label}: ${entry.name} is not a regular file`)
    // State scripts come first; the server does not keep them, so their bodies are skipped.
    if (scripts && /^scripts\/[^/]+$/.test(entry.name)) continue
    scripts = false
    const { payload, file } = payloadOf(entry.name, payloads, label, seen)
    const bytes = await readSmallEntry(entry, MAX_HEADER_SIZE, label)
    if (file === 'type-info') {
      // Format 2 writers put a type-info here that Mender always ignored.
      if (version === 2) continue
      payload.typeInfo = parseTypeInfo(bytes, entry.name)
      checkType(payload.type, payload.typeInfo.type, entry.name)
    } else if (file === 'meta-data') {
      payload.metaData = parseMetaData(bytes, entry.name)
    } else if (file === 'files') {
      if (version !== 2)
        throw new ArtifactError(`${label}: ${entry.name} is not allowed in a version 3 artifact`)
      parseFileList(bytes, entry.name)
    } else if (
      !(payload.type === 'rootfs-image' && /^(signatures|checksums|scripts\/[^/]+)\/[^/]+$/.test(file))
    ) {
      throw new ArtifactError(`${label}: unsupported header file ${entry.name}`)
    }
  }
  if (version === 3) {
    payloads.forEach((payload, i) => {
      if (!payload.typeInfo) throw new ArtifactError(`${label}: headers/${index4(i)}/type-info is missing`)
    })
  }
  return { info, payloads }
}

async function readAugmentMembers(tar: TarReader, label: string, header: Header): Promise<void> {
  const first = await tar.next()
  if (first === null || first.name !== 'header-info' || first.type !== 'file') {
    throw new ArtifactError(`${label}: the first member must be header-info`)
  }
  const types = parseAugmentPayloadTypes(await readSmallEntry(first, MAX_HEADER_SIZE, label))
  if (types.length > header.payloads.length) {
    throw new ArtifactError(`${label}: more payloads than the header declares`)
  }
  types.forEach((type, i) => {
    const original = header.payloads[i]?.type
    if (type === null) return
    if (original === null) throw new ArtifactError(`${label}: an empty payload cannot be augmented`)
    if (type !== original) {
      throw new ArtifactError(`${label}: payload ${i} type ${type} differs from the original ${original}`)
    }
  })
  const seen = new Set<string>()
  for (let entry = await tar.next(); entry !== null; entry = await tar.next()) {
    if (entry.type === 'directory') continue
    if (entry.type !== 'file') throw new ArtifactError(`${label}: ${entry.name} is not a regular file`)
    const { payload, file } = payloadOf(entry.name, header.payloads, label, seen)
    const bytes = await readSmallEntry(entry, MAX_HEADER_SIZE, label)
    if (file === 'type-info') {
      payload.augmentTypeInfo = parseTypeInfo(bytes, `${label} ${entry.name}`)
      checkType(payload.type, payload.augmentTypeInfo.type, `${label} ${entry.name}`)
    } else if (file === 'meta-data') {
      payload.augmentMetaData = parseMetaData(bytes, `${label} ${entry.name}`)
    } else {
      throw new ArtifactError(`${label}: unexpected header file ${entry.name}`)
    }
  }
}

/** The payload a `headers/NNNN/<file>` member belongs to; each member may appear once. */
function payloadOf(
  name: string,
  payloads: Payload[],
  label: string,
  seen: Set<string>,
): { payload: Payload; file: string } {
  const match = /^headers\/(\d{4})\/(.+)$/.exec(name)
  const payload = payloads[Number(match?.[1])]
  if (!match?.[2]) throw new ArtifactError(`${label}: unexpected member ${name}`)
  if (!payload) throw new ArtifactError(`${label}: ${name} belongs to no payload`)
  if (seen.has(name)) throw new ArtifactError(`${label}: ${name} appears twice`)
  seen.add(name)
  return { payload, file: match[2] }
}

/**
 * type-info must agree with header-info. mender-artifact 3.x wrote `""` for rootfs-image, so an empty
 * type is taken to mean header-info's.
 */
function checkType(declared: string | null, typeInfo: string | null | undefined, what: string): void {
  const agrees =
    declared === null ? typeInfo === null || typeInfo === undefined : typeInfo === declared || typeInfo === ''
  if (!agrees) {
    throw new ArtifactError(
      `${what}: type ${JSON.stringify(typeInfo ?? null)} does not match header-info's ${JSON.stringify(declared)}`,
    )
  }
}

/** Every payload file the manifest lists must be `data/NNNN/<name>` for a payload the header declares. */
function checkDataEntries(manifest: Manifest, payloadCount: number): void {
  for (const { path } of manifest.entries()) {
    if (!path.startsWith('data/')) continue
    const match = /^data\/(\d{4})\/([^/]+)$/.exec(path)
    if (!match) throw new ArtifactError(`manifest: malformed payload entry ${path}`)
    if (Number(match[1]) >= payloadCount) throw new ArtifactError(`manifest: ${path} belongs to no payload`)
  }
}

async function readData(
  entry: TarEntry,
  compression: Compression,
  index: string,
  payload: Payload,
  manifest: Manifest,
  inflate?: InflateLimits,
): Promise<void> {
  const label = entry.name
  let inflated = decompress(entry.body, compression, label)
  if (inflate && compression !== 'none') inflated = capped(inflated, inflateLimit(inflate, entry.size), label)
  const inner = new ChunkReader(inflated, label)
  try {
    const tar = new TarReader(inner)
    for (let file = await tar.next(); file !== null; file = await tar.next()) {
      if (file.type !== 'file') throw new ArtifactError(`${label}: ${file.name} is not a regular file`)
      if (!PAYLOAD_FILE_NAME.test(file.name)) {
        throw new ArtifactError(
          `${label}: payload file name ${file.name} contains forbidden characters; only letters, digits and ".,_-" are allowed`,
        )
      }
      const listed = manifest.take(`data/${index}/${file.name}`)
      const hasher = new Bun.CryptoHasher('sha256')
      for await (const chunk of file.body) hasher.update(chunk)
      verifyChecksum(listed, hasher.digest('hex'))
      payload.files.set(file.name, { size: file.size, date: isoDate(file.mtime, label) })
    }
    await inner.drain()
  } catch (err) {
    void inner.cancel()
    throw err
  }
}

function toArtifactMeta(info: ArtifactInfo, signed: boolean, header: Header, manifest: Manifest) {
  const entries = [...manifest.entries()]
  const updates = header.payloads.map((payload, i): ArtifactUpdate => {
    // Like Mender, list the original payload files; files an augment adds are verified, not listed.
    // Listed in manifest order, as Mender does; every listed file was seen, or checkAllSeen failed.
    const prefix = `data/${index4(i)}/`
    const files = entries
      .filter((entry) => !entry.augment && entry.path.startsWith(prefix))
      .map((entry): ArtifactFile => {
        const name = entry.path.slice(prefix.length)
        const { size, date } = payload.files.get(name)!
        return { name, checksum: entry.checksum, size, date }
      })
    const metadata = payload.augmentMetaData
      ? overlay(payload.metaData ?? {}, payload.augmentMetaData)
      : payload.metaData
    return {
      type_info: { type: payload.type },
      files,
      ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    }
  })
  const meta: Omit<ArtifactMeta, 'size'> = {
    name: header.info.name,
    device_types_compatible: header.info.deviceTypes,
    info,
    signed,
    updates,
  }
  if (info.version !== 3) return meta
  const provides: Provides = { ...header.info.provides }
  const depends: Depends = { ...header.info.depends }
  const clears: string[] = []
  for (const payload of header.payloads) {
    const original = payload.typeInfo
    const augment = payload.augmentTypeInfo
    mergeDistinct(provides, layered(original?.provides, augment?.provides) as Provides, 'artifact provides')
    mergeDistinct(depends, layered(original?.depends, augment?.depends) as Depends, 'artifact depends')
    clears.push(...(augment?.clearsProvides ?? original?.clearsProvides ?? []))
  }
  return {
    ...meta,
    artifact_provides: provides,
    artifact_depends: depends,
    ...(clears.length > 0 ? { clears_artifact_provides: clears } : {}),
  }
}

function layered(original: JsonObject | undefined, augment: JsonObject | undefined): JsonObject {
  return augment ? overlay(original ?? {}, augment) : (original ?? {})
}

function index4(index: number): string {
  return String(index).padStart(4, '0')
}

function isoDate(mtime: number, label: string): string {
  const date = new Date(mtime * 1000)
  if (Number.isNaN(date.getTime())) throw new ArtifactError(`${label}: modification time out of range`)
  return date.toISOString()
}

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
}
