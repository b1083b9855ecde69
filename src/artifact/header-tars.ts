import { ChunkReader } from './chunks.ts'
import { type Compression, decompress } from './compression.ts'
import { ArtifactError } from './errors.ts'
import {
  parseAugmentPayloadTypes,
  parseFileList,
  parseHeaderInfo,
  parseMetaData,
  parseTypeInfo,
} from './header.ts'
import { type Manifest, verifyChecksum } from './manifest.ts'
import { type Header, index4, type Payload } from './meta.ts'
import { readSmallEntry, type TarEntry, TarReader } from './tar.ts'

/** A header holds JSON and state scripts; one that inflates past this is a compression bomb. */
const MAX_HEADER_SIZE = 8 * 1024 * 1024

/**
 * Streams a (compressed) header tar through `parse`, hashing the raw member for its manifest checksum
 * and capping how far it may inflate.
 */
export async function readHeader<T>(
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
export async function* capped(
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

/** The members of `header.tar`: header-info, state scripts (skipped), each payload's type-info and meta-data. */
export async function readHeaderMembers(tar: TarReader, label: string, version: number): Promise<Header> {
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

/** The members of `header-augment.tar`, layered over `header`'s payloads (same types, no new payloads). */
export async function readAugmentMembers(tar: TarReader, label: string, header: Header): Promise<void> {
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
