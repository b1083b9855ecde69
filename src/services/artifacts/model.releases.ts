import { type Static, t } from 'elysia'
import { ArtifactsModel } from './model.ts'

/** Mender's bound on one release tag. */
export const MAX_TAG_LENGTH = 1024
const timestamp = t.String({ format: 'date-time' })
const optionalString = (description: string) => t.Optional(t.String({ description }))
const tags = t.Array(t.String(), {
  description: 'Lower-case; letters, digits, `_`, `.` and `-`; at most 20.',
})
const notes = t.String({ description: 'At most 1024 characters.' })

const release = t.Object({
  name: t.String(),
  modified: timestamp,
  tags,
  notes,
  artifacts: t.Array(ArtifactsModel.artifact),
  artifacts_count: t.Integer(),
})

const releaseV1 = t.Object({
  Name: t.String(),
  Modified: timestamp,
  Artifacts: t.Array(ArtifactsModel.artifact),
  ArtifactsCount: t.Integer(),
  tags,
  notes,
})

const software = t.Object({
  name: t.String(),
  modified: timestamp,
  tags,
  notes,
  kind: t.String({ description: 'Always `release`: bender has no manifests.' }),
  compatible_types: t.Array(t.String()),
})

const sortDescription = 'name, modified, artifacts_count or tags, then :asc or :desc (default name:asc).'
const paging = {
  page: optionalString('Page number, from 1 (anything else means 1).'),
  per_page: optionalString('Results per page, up to 500 (anything else means 20).'),
}

export const ReleasesModel = {
  release,
  releaseV1,
  software,
  v1Query: t.Object({
    name: optionalString('Releases whose name contains this (case-insensitive).'),
    description: optionalString(
      'Releases with an artifact whose description contains this (case-insensitive).',
    ),
    device_type: optionalString('Releases with an artifact compatible with this device type.'),
    update_type: optionalString('Releases with a payload of this type.'),
  }),
  v1PageQuery: t.Object({
    name: optionalString('Releases whose name contains this (case-insensitive).'),
    description: optionalString(
      'Releases with an artifact whose description contains this (case-insensitive).',
    ),
    device_type: optionalString('Releases with an artifact compatible with this device type.'),
    update_type: optionalString('Releases with a payload of this type.'),
    sort: optionalString(sortDescription),
    ...paging,
  }),
  v2Query: t.Object({
    name: optionalString('Releases whose name contains this (case-insensitive).'),
    tag: t.Optional(t.Array(t.String(), { description: 'Releases with any of these tags (repeatable).' })),
    update_type: optionalString('Releases with a payload of this type.'),
    sort: optionalString(sortDescription),
    ...paging,
  }),
  nameParams: t.Object({ name: t.String() }),
  deleteQuery: t.Object({
    name: t.Optional(t.Array(t.String(), { description: 'Releases to delete (repeatable).' })),
  }),
  patch: t.Nullable(t.Object({ notes: t.Optional(notes) })),
  tags: t.Array(
    t.String({
      maxLength: MAX_TAG_LENGTH,
      error: `invalid request body: tag must be less than ${MAX_TAG_LENGTH} characters`,
    }),
  ),
  softwareQuery: t.Object({
    name: t.Optional(t.Array(t.String(), { description: 'Exact names (repeatable); not with name_prefix.' })),
    name_prefix: optionalString('Names starting with this; not with name.'),
    kind: optionalString('release or manifest.'),
    tag: t.Optional(t.Array(t.String(), { description: 'Software with any of these tags (repeatable).' })),
    update_type: optionalString('Software with a payload of this type.'),
    sort: optionalString('name, modified or tags, then :asc or :desc (default name:asc).'),
    page: t.Optional(t.Numeric({ description: 'Page number, from 1.' })),
    per_page: t.Optional(t.Numeric({ description: 'Results per page (max 500).' })),
  }),
  softwareTagsQuery: t.Object({
    kind: t.Optional(t.Array(t.String(), { description: 'release or manifest.' })),
  }),
}

export type ApiRelease = Static<typeof release>
export type ApiReleaseV1 = Static<typeof releaseV1>
export type ApiSoftware = Static<typeof software>
