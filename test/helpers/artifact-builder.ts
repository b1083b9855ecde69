import { zstdCompressSync } from 'node:zlib'
import { bytesOf, type TarMember, tar } from './tar.ts'

/**
 * Hand-made `.mender` files for the reader's tests: a correct artifact by default, with hooks to break
 * any part of it. Checksums are computed after the hooks for the data and header members, so a test
 * breaks exactly the thing it means to break.
 */

export type Compression = 'none' | 'gzip' | 'zstd'

export type FixturePayload = {
  type: string | null
  /** type-info document (or raw text); `{type}` with default provides when omitted. */
  typeInfo?: object | string
  metaData?: object | string
  files?: Record<string, Uint8Array | string>
}

export type FixtureOptions = {
  formatVersion?: number
  /** Raw `version` content; derived from formatVersion when omitted. */
  version?: string
  name?: string
  deviceTypes?: string[]
  /** header-info document (or raw text) replacing the default. */
  headerInfo?: object | string
  payloads?: FixturePayload[]
  compression?: Compression
  signed?: boolean
  /** Edits the members of header.tar before it is compressed. */
  headerMembers?: (members: TarMember[]) => TarMember[]
  /** Edits the members of data/NNNN.tar before it is compressed. */
  dataMembers?: (index: number, members: TarMember[]) => TarMember[]
  /** Edits the manifest's lines (`<sha>  <path>`) after the checksums are known. */
  manifest?: (lines: string[]) => string[]
  /** Edits the outer members last. */
  outer?: (members: TarMember[]) => TarMember[]
}

const SUFFIX: Record<Compression, string> = { none: '', gzip: '.gz', zstd: '.zst' }

export function compress(bytes: Uint8Array, compression: Compression): Uint8Array {
  if (compression === 'gzip') return Bun.gzipSync(bytes as Uint8Array<ArrayBuffer>)
  if (compression === 'zstd') return zstdCompressSync(bytes)
  return bytes
}

export function sha256(bytes: Uint8Array | string): string {
  return new Bun.CryptoHasher('sha256').update(bytesOf(bytes)).digest('hex')
}

const text = (value: object | string) => (typeof value === 'string' ? value : JSON.stringify(value))

export function buildArtifact(options: FixtureOptions = {}): Uint8Array {
  const formatVersion = options.formatVersion ?? 3
  const name = options.name ?? 'fixture-1'
  const deviceTypes = options.deviceTypes ?? ['dev-a']
  const compression = options.compression ?? 'gzip'
  const payloads = options.payloads ?? [{ type: 'single-file', files: { 'payload.bin': 'hello payload\n' } }]
  const index = (i: number) => String(i).padStart(4, '0')

  const headerInfo =
    options.headerInfo ??
    (formatVersion === 2
      ? {
          artifact_name: name,
          updates: payloads.map((p) => ({ type: p.type })),
          device_types_compatible: deviceTypes,
        }
      : {
          payloads: payloads.map((p) => ({ type: p.type })),
          artifact_provides: { artifact_name: name },
          artifact_depends: { device_type: deviceTypes },
        })
  let headerMembers: TarMember[] = [{ name: 'header-info', content: text(headerInfo) }]
  payloads.forEach((payload, i) => {
    if (formatVersion === 2) {
      headerMembers.push({
        name: `headers/${index(i)}/files`,
        content: JSON.stringify({ files: Object.keys(payload.files ?? {}) }),
      })
    }
    headerMembers.push({
      name: `headers/${index(i)}/type-info`,
      content: text(payload.typeInfo ?? { type: payload.type }),
    })
    if (payload.metaData !== undefined) {
      headerMembers.push({ name: `headers/${index(i)}/meta-data`, content: text(payload.metaData) })
    }
  })
  if (options.headerMembers) headerMembers = options.headerMembers(headerMembers)
  const headerName = `header.tar${SUFFIX[compression]}`
  const header = compress(tar(headerMembers), compression)

  const version = options.version ?? JSON.stringify({ format: 'mender', version: formatVersion })
  const lines = [`${sha256(version)}  version`, `${sha256(header)}  ${headerName}`]
  const dataMembers: TarMember[] = []
  payloads.forEach((payload, i) => {
    let members: TarMember[] = Object.entries(payload.files ?? {}).map(([file, content]) => {
      lines.push(`${sha256(content)}  data/${index(i)}/${file}`)
      return { name: file, content }
    })
    if (options.dataMembers) members = options.dataMembers(i, members)
    dataMembers.push({
      name: `data/${index(i)}.tar${SUFFIX[compression]}`,
      content: compress(tar(members), compression),
    })
  })
  const manifest = `${(options.manifest ? options.manifest(lines) : lines).join('\n')}\n`

  let outer: TarMember[] = [
    { name: 'version', content: version, mtime: 0 },
    { name: 'manifest', content: manifest, mtime: 0 },
    ...(options.signed ? [{ name: 'manifest.sig', content: 'c2lnbmF0dXJl' }] : []),
    { name: headerName, content: header },
    ...dataMembers,
  ]
  if (options.outer) outer = options.outer(outer)
  return tar(outer)
}

/** `bytes` as a stream of `size`-byte chunks, so reads cross every kind of boundary. */
export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size)
}
