import { ArtifactError } from './errors.ts'

/**
 * The JSON documents of an artifact (version, header-info, type-info, meta-data, files), checked as
 * strictly as mender-artifact checks them, and the merge of provides and depends across them.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }
export type Depends = Record<string, string | string[]>
export type Provides = Record<string, string>

export type ArtifactInfo = { format: string; version: number }

/** What header-info says, in either format version. */
export type HeaderInfo = {
  name: string
  deviceTypes: string[]
  /** One per payload; `null` is an empty (bootstrap) payload. */
  payloadTypes: (string | null)[]
  /** Format 3 only: `artifact_name` and `artifact_group` when set. */
  provides?: Provides
  /** Format 3 only: `device_type`, plus `artifact_name` and `artifact_group` when set. */
  depends?: Depends
}

export type TypeInfo = {
  /** `undefined` when the document has no `type`, `null` when it says `null`. */
  type: string | null | undefined
  provides: Provides
  depends: Depends
  /** `undefined` when absent, so an augment can tell "not set" from "set to nothing". */
  clearsProvides?: string[]
}

/** mender-artifact's limit on names, device types and groups: 256 bytes of printable characters. */
const MAX_STRING_BYTES = 256
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u

const utf8 = new TextDecoder('utf-8', { fatal: true })

function parseJson(bytes: Uint8Array, what: string): Json {
  try {
    return JSON.parse(utf8.decode(bytes)) as Json
  } catch {
    throw new ArtifactError(`${what}: invalid JSON`)
  }
}

export function parseVersion(bytes: Uint8Array): ArtifactInfo {
  const doc = object(parseJson(bytes, 'version'), 'version')
  onlyKeys(doc, ['format', 'version'], 'version')
  if (doc.format !== 'mender')
    throw new ArtifactError('not a Mender artifact: version.format is not "mender"')
  const version = doc.version
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new ArtifactError('version: "version" must be an integer')
  }
  if (version === 1) throw new ArtifactError('Mender artifact format version 1 is no longer supported')
  if (version !== 2 && version !== 3) {
    throw new ArtifactError(`unsupported artifact format version: ${version}; supported versions are: 2, 3`)
  }
  return { format: doc.format, version }
}

export function parseHeaderInfo(bytes: Uint8Array, formatVersion: number): HeaderInfo {
  const what = 'header-info'
  const doc = object(parseJson(bytes, what), what)
  if (formatVersion === 2) {
    onlyKeys(doc, ['artifact_name', 'updates', 'device_types_compatible'], what)
    const name = requiredString(doc.artifact_name, `${what}: artifact_name`)
    const deviceTypes = nonEmptyStrings(doc.device_types_compatible, `${what}: device_types_compatible`)
    const payloadTypes = payloadTypeList(doc.updates, `${what}: updates`)
    if (payloadTypes.includes(null)) throw new ArtifactError(`${what}: a version 2 payload needs a type`)
    return { name, deviceTypes, payloadTypes }
  }
  onlyKeys(doc, ['payloads', 'artifact_provides', 'artifact_depends'], what)
  const payloadTypes = payloadTypeList(doc.payloads, `${what}: payloads`)
  const provided = object(doc.artifact_provides, `${what}: artifact_provides`)
  onlyKeys(provided, ['artifact_name', 'artifact_group'], `${what}: artifact_provides`)
  const name = requiredString(provided.artifact_name, `${what}: artifact_provides.artifact_name`)
  const provides: Provides = { artifact_name: name }
  if (provided.artifact_group !== undefined && provided.artifact_group !== '') {
    provides.artifact_group = checkedString(
      provided.artifact_group,
      `${what}: artifact_provides.artifact_group`,
    )
  }
  const depended = object(doc.artifact_depends, `${what}: artifact_depends`)
  onlyKeys(depended, ['artifact_name', 'device_type', 'artifact_group'], `${what}: artifact_depends`)
  const deviceTypes = nonEmptyStrings(depended.device_type, `${what}: artifact_depends.device_type`)
  const depends: Depends = { device_type: deviceTypes }
  for (const key of ['artifact_name', 'artifact_group'] as const) {
    const value = depended[key]
    if (value === undefined || value === null) continue
    const list = strings(value, `${what}: artifact_depends.${key}`)
    if (list.length > 0) depends[key] = list
  }
  return { name, deviceTypes, payloadTypes, provides, depends }
}

export function parseTypeInfo(bytes: Uint8Array, what: string): TypeInfo {
  const doc = object(parseJson(bytes, what), what)
  const type = doc.type
  if (type !== undefined && type !== null && typeof type !== 'string') {
    throw new ArtifactError(`${what}: "type" must be a string`)
  }
  const info: TypeInfo = { type, provides: {}, depends: {} }
  if (doc.artifact_provides !== undefined && doc.artifact_provides !== null) {
    for (const [key, value] of Object.entries(object(doc.artifact_provides, `${what}: artifact_provides`))) {
      if (typeof value !== 'string')
        throw new ArtifactError(`${what}: artifact_provides.${key} must be a string`)
      setOwn(info.provides, key, value)
    }
  }
  if (doc.artifact_depends !== undefined && doc.artifact_depends !== null) {
    for (const [key, value] of Object.entries(object(doc.artifact_depends, `${what}: artifact_depends`))) {
      setOwn(
        info.depends,
        key,
        typeof value === 'string' ? value : strings(value, `${what}: artifact_depends.${key}`, false),
      )
    }
  }
  if (doc.clears_artifact_provides !== undefined && doc.clears_artifact_provides !== null) {
    info.clearsProvides = strings(doc.clears_artifact_provides, `${what}: clears_artifact_provides`, false)
  }
  return info
}

/**
 * The payload types of `header-augment`'s header-info: `null` where the augment leaves a payload's
 * type as it is. Only the types matter there; its provides and depends are not used (as in Mender).
 */
export function parseAugmentPayloadTypes(bytes: Uint8Array): (string | null)[] {
  const what = 'header-augment header-info'
  const doc = object(parseJson(bytes, what), what)
  onlyKeys(doc, ['payloads', 'artifact_provides', 'artifact_depends'], what)
  const payloads = doc.payloads ?? []
  if (!Array.isArray(payloads)) throw new ArtifactError(`${what}: payloads must be a list`)
  return payloads.map((item, i) => {
    const type = object(item, `${what}: payloads[${i}]`).type
    if (type === undefined || type === null || type === '') return null
    if (typeof type !== 'string') throw new ArtifactError(`${what}: payloads[${i}].type must be a string`)
    return type
  })
}

/** A payload's meta-data: a JSON object, or nothing when the member is empty. */
export function parseMetaData(bytes: Uint8Array, what: string): JsonObject | undefined {
  if (new TextDecoder().decode(bytes).trim() === '') return undefined
  const doc = parseJson(bytes, what)
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ArtifactError(`${what}: the top level of meta-data must be a JSON object`)
  }
  return doc
}

/** A version 2 payload's `files` list. */
export function parseFileList(bytes: Uint8Array, what: string): string[] {
  const doc = object(parseJson(bytes, what), what)
  onlyKeys(doc, ['files'], what)
  const files = strings(doc.files ?? [], `${what}: files`, false)
  if (files.includes('')) throw new ArtifactError(`${what}: a file needs a name`)
  return files
}

/** Sets an own property, even one named `__proto__` (which plain assignment would take as the prototype). */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Adds `extra` to `merged` for the artifact-wide provides or depends: a key set twice (by header-info
 * and a payload, or by two payloads) is an error, as in Mender.
 */
export function mergeDistinct<T>(merged: Record<string, T>, extra: Record<string, T>, what: string): void {
  for (const [key, value] of Object.entries(extra)) {
    if (Object.hasOwn(merged, key)) {
      throw new ArtifactError(`conflicting keys are not allowed in ${what}: ${key}`)
    }
    setOwn(merged, key, value)
  }
}

/**
 * An augmented header's value laid over the original: objects merge key by key, anything else is
 * replaced, and an object, a list and a scalar never replace one another.
 */
export function overlay(original: JsonObject, augment: JsonObject, path = ''): JsonObject {
  const merged: JsonObject = structuredClone(original)
  for (const [key, value] of Object.entries(augment)) {
    const where = path === '' ? key : `${path}.${key}`
    const base = Object.hasOwn(merged, key) ? merged[key] : undefined
    if (base === undefined) {
      setOwn(merged, key, structuredClone(value))
      continue
    }
    const kind = (v: Json) =>
      Array.isArray(v) ? 'list' : v !== null && typeof v === 'object' ? 'object' : 'scalar'
    if (kind(base) !== kind(value)) throw new ArtifactError(`augmented header: type conflict at ${where}`)
    setOwn(
      merged,
      key,
      kind(value) === 'object'
        ? overlay(base as JsonObject, value as JsonObject, where)
        : structuredClone(value),
    )
  }
  return merged
}

function payloadTypeList(value: Json | undefined, what: string): (string | null)[] {
  if (!Array.isArray(value) || value.length === 0) throw new ArtifactError(`${what}: no payloads`)
  return value.map((item, i) => {
    const doc = object(item, `${what}[${i}]`)
    onlyKeys(doc, ['type'], `${what}[${i}]`)
    if (doc.type === null || doc.type === undefined) return null
    if (typeof doc.type !== 'string' || doc.type === '') {
      throw new ArtifactError(`${what}[${i}]: unexpected empty payload type`)
    }
    return doc.type
  })
}

function object(value: Json | undefined, what: string): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new ArtifactError(`${what}: expected a JSON object`)
  }
  return value
}

function onlyKeys(doc: JsonObject, allowed: string[], what: string): void {
  for (const key of Object.keys(doc)) {
    if (!allowed.includes(key)) throw new ArtifactError(`${what}: unknown field "${key}"`)
  }
}

function strings(value: Json | undefined, what: string, check = true): string[] {
  if (!Array.isArray(value)) throw new ArtifactError(`${what}: expected a list of strings`)
  return value.map((item) => {
    if (typeof item !== 'string') throw new ArtifactError(`${what}: expected a list of strings`)
    return check ? checkedString(item, what) : item
  })
}

function nonEmptyStrings(value: Json | undefined, what: string): string[] {
  const list = strings(value ?? [], what)
  if (list.length === 0) throw new ArtifactError(`${what}: at least one is required`)
  if (list.includes('')) throw new ArtifactError(`${what}: must not be empty`)
  return list
}

function requiredString(value: Json | undefined, what: string): string {
  const text = checkedString(value ?? '', what)
  if (text === '') throw new ArtifactError(`${what}: required`)
  return text
}

function checkedString(value: Json, what: string): string {
  if (typeof value !== 'string') throw new ArtifactError(`${what}: expected a string`)
  if (Buffer.byteLength(value) > MAX_STRING_BYTES) {
    throw new ArtifactError(`${what}: longer than ${MAX_STRING_BYTES} bytes`)
  }
  if (!PRINTABLE.test(value)) throw new ArtifactError(`${what}: contains non-printable characters`)
  return value
}
