import { type Static, t } from 'elysia'
import type { JsonObject } from '../../artifact/header.ts'
import type { artifacts } from './tables.ts'

/** An artifact as stored: what the artifacts service hands to other services. */
export type ArtifactRow = typeof artifacts.$inferSelect

/**
 * Where an artifact's file is in the blob store: its id, under the tenant's prefix in a
 * multi-tenant store (as in Mender).
 */
export function artifactBlobKey(tenantId: string, artifactId: string): string {
  return tenantId === '' ? artifactId : `${tenantId}/${artifactId}`
}

const timestamp = t.String({ format: 'date-time' })
const optionalString = (description: string) => t.Optional(t.String({ description }))

const update = t.Object({
  type_info: t.Object({ type: t.Nullable(t.String()) }),
  files: t.Array(
    t.Object({
      name: t.String(),
      checksum: t.String({ description: 'SHA-256, hex.' }),
      size: t.Integer(),
      date: timestamp,
    }),
  ),
  metadata: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'The payload meta-data.' })),
  meta_data: t.Optional(
    t.Array(t.Object({ Key: t.String(), Value: t.Unknown() }), {
      description: 'Deprecated: the meta-data as a list of key/value pairs (mender-cli reads it).',
    }),
  ),
})

const artifact = t.Object({
  id: t.String(),
  description: t.String(),
  name: t.String(),
  device_types_compatible: t.Array(t.String()),
  info: t.Object({ format: t.String(), version: t.Integer() }),
  signed: t.Boolean({ description: 'The artifact carries a signature (not verified by the server).' }),
  updates: t.Array(update),
  artifact_provides: t.Optional(t.Record(t.String(), t.String())),
  artifact_depends: t.Optional(t.Record(t.String(), t.Union([t.String(), t.Array(t.String())]))),
  clears_artifact_provides: t.Optional(t.Array(t.String())),
  size: t.Integer({ description: 'Bytes of the .mender file.' }),
  modified: timestamp,
})

const link = t.Object({
  uri: t.String(),
  expire: timestamp,
  method: t.String(),
})

const substringFilters = {
  name: optionalString('Artifacts whose name contains this (case-insensitive).'),
  description: optionalString('Artifacts whose description contains this (case-insensitive).'),
  device_type: optionalString('Artifacts with a compatible device type containing this (case-insensitive).'),
}

export const ArtifactsModel = {
  artifact,
  link,
  uploadLink: t.Object({ id: t.String(), uri: t.String(), expire: timestamp, method: t.String() }),
  idParams: t.Object({ id: t.String() }),
  listQuery: t.Object(substringFilters),
  pageQuery: t.Object({
    ...substringFilters,
    page: optionalString('Page number, from 1 (anything else means 1).'),
    per_page: optionalString('Results per page, up to 500 (anything else means 20).'),
    sort: optionalString('name or modified, then :asc or :desc (default name:asc).'),
  }),
  listV2Query: t.Object({
    name: t.Optional(
      t.Array(t.String(), {
        description:
          'Exact names (repeatable), or one prefix ending in `*` (case-insensitive); `\\*` is a literal `*`.',
      }),
    ),
    description: optionalString('Exact description, or a prefix ending in `*`.'),
    device_type: optionalString('Exact compatible device type, or a prefix ending in `*`.'),
    page: optionalString('Page number, from 1.'),
    per_page: optionalString('Results per page, up to 500.'),
  }),
  edit: t.Object({ description: t.Optional(t.String({ description: 'At most 4096 characters.' })) }),
  completeUpload: t.Optional(
    t.Nullable(t.Object({ size: t.Optional(t.Integer()), updates: t.Optional(t.Array(t.Unknown())) })),
  ),
  storageLimit: t.Object({
    limit: t.Integer({ description: 'Bytes allowed; 0 means no limit.' }),
    usage: t.Integer({ description: 'Bytes of every stored artifact.' }),
  }),
}

export type ApiArtifact = Static<typeof artifact>
export type ApiLink = Static<typeof link>

function toApiUpdate(update: ArtifactRow['updates'][number]): ApiArtifact['updates'][number] {
  const metadata = update.metadata as JsonObject | undefined
  if (!metadata || Object.keys(metadata).length === 0)
    return { type_info: update.type_info, files: update.files }
  return {
    type_info: update.type_info,
    files: update.files,
    metadata,
    meta_data: Object.entries(metadata).map(([Key, Value]) => ({ Key, Value })),
  }
}

/** An artifact as Mender's API shows it (fields in Mender's order). */
export function toApiArtifact(row: ArtifactRow): ApiArtifact {
  return {
    id: row.id,
    description: row.description,
    name: row.name,
    device_types_compatible: row.deviceTypes,
    info: row.info,
    signed: row.signed,
    updates: row.updates.map(toApiUpdate),
    ...(row.provides ? { artifact_provides: row.provides } : {}),
    artifact_depends: row.depends,
    ...(row.clearsProvides?.length ? { clears_artifact_provides: row.clearsProvides } : {}),
    size: row.size,
    modified: row.modified.toISOString(),
  }
}

/** An artifact upload as the service receives it: the form's fields, then the artifact's bytes as they arrive. */
export type ArtifactUpload = {
  description: string
  /** The id to give the artifact (a UUID), if the client chose one. */
  artifactId: string | undefined
  content: AsyncIterable<Uint8Array>
}

/** A request to generate a single-file artifact: the form's fields, then the file's bytes as they arrive. */
export type GenerateRequest = {
  name: string
  description: string
  deviceTypes: string[]
  type: string
  /** JSON: `{"filename": ..., "dest_dir": ...}`. */
  args: string
  /** The file part's own name, if it has one. */
  filename: string | undefined
  content: AsyncIterable<Uint8Array>
}
