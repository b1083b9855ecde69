import { ChunkReader } from './chunks.ts'
import { type Compression, compressionOf, decompress } from './compression.ts'
import { ArtifactError, ArtifactTooLargeError } from './errors.ts'
import { parseVersion } from './header.ts'
import { capped, readAugmentMembers, readHeader, readHeaderMembers } from './header-tars.ts'
import { Manifest, verifyChecksum } from './manifest.ts'
import { type ArtifactMeta, type Payload, toArtifactMeta } from './meta.ts'
import { readSmallEntry, type TarEntry, TarReader } from './tar.ts'

export type { ArtifactFile, ArtifactMeta, ArtifactUpdate } from './meta.ts'

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
/** mender-artifact's rule for payload file names (Go's `\w` is ASCII, as is JavaScript's). */
export const PAYLOAD_FILE_NAME = /^[\w\-.,]+$/

export type InflateLimits = { ratio: number; maxSize: number }
/** What any payload may inflate to whatever its ratio: decoding this much costs well under a second. */
const INFLATE_FLOOR = 64 * 1024 * 1024

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

/** How far a payload member of `compressedSize` bytes may inflate. */
function inflateLimit(limits: InflateLimits, compressedSize: number): number {
  return Math.min(limits.maxSize, Math.max(INFLATE_FLOOR, limits.ratio * compressedSize))
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

function isoDate(mtime: number, label: string): string {
  const date = new Date(mtime * 1000)
  if (Number.isNaN(date.getTime())) throw new ArtifactError(`${label}: modification time out of range`)
  return date.toISOString()
}

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
}
