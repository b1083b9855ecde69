import {
  type ArtifactInfo,
  type Depends,
  type HeaderInfo,
  type JsonObject,
  mergeDistinct,
  overlay,
  type Provides,
  type TypeInfo,
} from './header.ts'
import type { Manifest } from './manifest.ts'

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

/** One payload as the header tars describe it, its files filled in as the data arrives. */
export type Payload = {
  type: string | null
  typeInfo?: TypeInfo
  metaData?: JsonObject
  augmentTypeInfo?: TypeInfo
  augmentMetaData?: JsonObject
  /** Size and date of each file, by name, filled in as the data arrives. */
  files: Map<string, { size: number; date: string }>
}

/** What the header tars say: header-info and each payload. */
export type Header = { info: HeaderInfo; payloads: Payload[] }

/** The payload index as member names spell it (`0000`). */
export function index4(index: number): string {
  return String(index).padStart(4, '0')
}

/** What the server keeps, from the version, the header tars and the manifest. */
export function toArtifactMeta(info: ArtifactInfo, signed: boolean, header: Header, manifest: Manifest) {
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
