import { open, rm } from 'node:fs/promises'
import { basename } from 'node:path'
import { writeAll } from '../files.ts'
import { pullStream } from './chunks.ts'
import { ArtifactError } from './errors.ts'
import type { Depends, JsonObject, Provides } from './header.ts'
import { PAYLOAD_FILE_NAME } from './reader.ts'
import { padding, TAR_BLOCK, TAR_END, tarHeader } from './tar.ts'

/** One file of the payload, read once while the artifact is written. */
export type PayloadFile = {
  /** Its name in the payload: letters, digits and `.,_-` only, as mender-artifact requires. */
  name: string
  size: number
  open: () => AsyncIterable<Uint8Array>
}

export type ModuleImageSpec = {
  /** The artifact name (`artifact_provides.artifact_name`). */
  name: string
  deviceTypes: string[]
  /** The payload type: the name of the update module that installs it, e.g. `single-file`. */
  type: string
  files: PayloadFile[]
  metaData?: JsonObject
  /** Added to the version provide (`<versionProvide>` = name). */
  provides?: Provides
  /** The provide that carries the artifact name; `rootfs-image.<type>.version` by default. */
  versionProvide?: string
  depends?: Depends
  /** Replaces the default `rootfs-image.<type>.*`. */
  clearsProvides?: string[]
  /** The modification time written on the header and payload members; now by default. */
  date?: Date
}

const HEADER_KEYS = ['artifact_name', 'artifact_group', 'device_type']
const encoder = new TextEncoder()

export function fileFromPath(path: string, name = basename(path)): PayloadFile {
  const file = Bun.file(path)
  return { name, size: file.size, open: () => file.stream() }
}

export function fileFromBytes(name: string, content: string | Uint8Array): PayloadFile {
  const bytes = typeof content === 'string' ? encoder.encode(content) : content
  return {
    name,
    size: bytes.byteLength,
    open: async function* () {
      yield bytes
    },
  }
}

/**
 * The files the `single-file` update module installs from: the file itself and three small files
 * saying its name, the absolute directory it goes to, and its octal mode.
 */
export function singleFilePayload(file: PayloadFile, destDir: string, permissions = '644'): PayloadFile[] {
  if (!destDir.startsWith('/')) throw new ArtifactError('dest_dir must be an absolute path')
  if (!/^[0-7]{3,4}$/.test(permissions)) throw new ArtifactError('permissions must be an octal mode')
  return [
    fileFromBytes('dest_dir', `${destDir}\n`),
    fileFromBytes('filename', `${file.name}\n`),
    fileFromBytes('permissions', `${permissions}\n`),
    file,
  ]
}

/**
 * Writes a module-image artifact (format 3, gzip) to `path` in one pass over the payload files, and
 * returns its size. The manifest precedes the data but lists the data's checksums, and the data
 * member's tar header needs its compressed size: both regions are reserved (their sizes are known
 * from the names alone) and filled in once the payload has streamed through gzip into the file.
 */
export async function writeModuleImage(spec: ModuleImageSpec, path: string): Promise<number> {
  checkSpec(spec)
  const mtime = Math.floor((spec.date ?? new Date()).getTime() / 1000)
  const version = encoder.encode('{"format":"mender","version":3}')
  const header = Bun.gzipSync(headerTar(spec, mtime))
  const manifestPaths = ['version', 'header.tar.gz', ...spec.files.map((file) => `data/0000/${file.name}`)]
  // Every manifest line is a 64-digit checksum, two spaces, the path and a newline.
  const manifestSize = manifestPaths.reduce((sum, p) => sum + 64 + 2 + encoder.encode(p).byteLength + 1, 0)
  const manifestAt = TAR_BLOCK + version.byteLength + padding(version.byteLength)
  const headerAt = manifestAt + TAR_BLOCK + manifestSize + padding(manifestSize)
  const dataAt = headerAt + TAR_BLOCK + header.byteLength + padding(header.byteLength)

  const handle = await open(path, 'w')
  try {
    await writeAll(handle, member('version', version, 0), 0)
    await writeAll(handle, member('header.tar.gz', header, mtime), headerAt)
    const checksums = new Map<string, string>([
      ['version', sha256(version)],
      ['header.tar.gz', sha256(header)],
    ])
    let compressedSize = 0
    const gzip = new CompressionStream('gzip')
    const data = pullStream(payloadTar(spec.files, mtime, checksums)).pipeThrough({
      writable: gzip.writable as WritableStream<Uint8Array>,
      readable: gzip.readable,
    })
    for await (const chunk of data) {
      await writeAll(handle, chunk, dataAt + TAR_BLOCK + compressedSize)
      compressedSize += chunk.byteLength
    }
    const end = dataAt + TAR_BLOCK + compressedSize
    await writeAll(handle, new Uint8Array(padding(compressedSize) + TAR_END.byteLength), end)
    await writeAll(handle, tarHeader({ name: 'data/0000.tar.gz', size: compressedSize, mtime }), dataAt)
    const manifest = manifestPaths
      .toSorted()
      .map((p) => `${checksums.get(p)}  ${p}\n`)
      .join('')
    await writeAll(handle, member('manifest', encoder.encode(manifest), 0), manifestAt)
    await handle.close()
    return end + padding(compressedSize) + TAR_END.byteLength
  } catch (err) {
    await handle.close().catch(() => undefined)
    await rm(path, { force: true })
    throw err
  }
}

function checkSpec(spec: ModuleImageSpec): void {
  if (spec.name.trim() === '') throw new ArtifactError('the artifact needs a name')
  if (spec.deviceTypes.length === 0) throw new ArtifactError('the artifact needs at least one device type')
  if (spec.type === '' || spec.type.includes('/')) throw new ArtifactError('invalid payload type')
  const names = new Set<string>()
  for (const file of spec.files) {
    if (!PAYLOAD_FILE_NAME.test(file.name)) {
      throw new ArtifactError(`payload file name ${file.name}: only letters, digits and ".,_-" are allowed`)
    }
    if (names.has(file.name)) throw new ArtifactError(`payload file ${file.name} is given twice`)
    names.add(file.name)
  }
  // header-info owns these keys; a payload setting them too makes the artifact unreadable.
  for (const key of [...Object.keys(spec.provides ?? {}), ...Object.keys(spec.depends ?? {})]) {
    if (HEADER_KEYS.includes(key))
      throw new ArtifactError(`${key} cannot be set as a payload provide or depend`)
  }
}

function headerTar(spec: ModuleImageSpec, mtime: number): Uint8Array<ArrayBuffer> {
  const headerInfo = {
    payloads: [{ type: spec.type }],
    artifact_provides: { artifact_name: spec.name },
    artifact_depends: { device_type: spec.deviceTypes },
  }
  const typeInfo = {
    type: spec.type,
    artifact_provides: {
      [spec.versionProvide ?? `rootfs-image.${spec.type}.version`]: spec.name,
      ...spec.provides,
    },
    ...(spec.depends && Object.keys(spec.depends).length > 0 ? { artifact_depends: spec.depends } : {}),
    clears_artifact_provides: spec.clearsProvides ?? [`rootfs-image.${spec.type}.*`],
  }
  const members = [
    member('header-info', json(headerInfo), mtime),
    member('headers/0000/type-info', json(typeInfo), mtime),
  ]
  if (spec.metaData && Object.keys(spec.metaData).length > 0) {
    members.push(member('headers/0000/meta-data', json(spec.metaData), mtime))
  }
  return Buffer.concat([...members, TAR_END])
}

/** The payload's tar, streamed from its files; records each file's sha256 as it passes. */
async function* payloadTar(
  files: PayloadFile[],
  mtime: number,
  checksums: Map<string, string>,
): AsyncGenerator<Uint8Array> {
  for (const file of files) {
    yield tarHeader({ name: file.name, size: file.size, mtime })
    const hasher = new Bun.CryptoHasher('sha256')
    let read = 0
    for await (const chunk of file.open()) {
      read += chunk.byteLength
      if (read > file.size) break
      hasher.update(chunk)
      yield chunk
    }
    if (read !== file.size) throw new Error(`payload file ${file.name} is not ${file.size} bytes long`)
    checksums.set(`data/0000/${file.name}`, hasher.digest('hex'))
    yield new Uint8Array(padding(file.size))
  }
  yield TAR_END
}

/** A whole small member: header block, content, padding. */
function member(name: string, content: Uint8Array, mtime: number): Uint8Array {
  return Buffer.concat([
    tarHeader({ name, size: content.byteLength, mtime }),
    content,
    new Uint8Array(padding(content.byteLength)),
  ])
}

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
}
