import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { ArtifactInfo, Depends, Provides } from '../../artifact/header.ts'
import type { ArtifactUpdate } from '../../artifact/reader.ts'

/**
 * Uploaded artifacts, one row per `.mender` file, with what the reader extracted from it. The
 * file itself is in the blob store under `artifactBlobKey(tenantId, id)`.
 */
export const artifacts = sqliteTable(
  'deployments_artifacts',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    /** `artifact_provides.artifact_name`: also the name of the release the artifact belongs to. */
    name: text().notNull(),
    description: text().notNull().default(''),
    deviceTypes: text({ mode: 'json' }).$type<string[]>().notNull(),
    info: text({ mode: 'json' }).$type<ArtifactInfo>().notNull(),
    signed: integer({ mode: 'boolean' }).notNull(),
    updates: text({ mode: 'json' }).$type<ArtifactUpdate[]>().notNull(),
    /** Format 3 only. */
    provides: text({ mode: 'json' }).$type<Provides>(),
    /** Always holds `device_type` (format 2 artifacts get it from their compatible device types, as in Mender). */
    depends: text({ mode: 'json' }).$type<Depends>().notNull(),
    /** Format 3 only, and only when a payload clears something. */
    clearsProvides: text({ mode: 'json' }).$type<string[]>(),
    size: integer().notNull(),
    modified: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('deployments_artifacts_name').on(t.tenantId, t.name)],
)

/**
 * Mender's uniqueness rule for artifacts: no two share a name and a combination of depends values.
 * Each artifact has one row per combination (its depends unwound: `device_type: [a, b]` gives one
 * row for `a` and one for `b`, crossed with every other multi-valued depend), and the unique index
 * refuses a second artifact claiming any combination already taken.
 */
export const artifactDepends = sqliteTable(
  'deployments_artifact_depends',
  {
    tenantId: text().notNull().default(''),
    name: text().notNull(),
    /** The combination as JSON: `[[key, value], ...]` sorted by key. */
    combination: text().notNull(),
    artifactId: text()
      .notNull()
      .references(() => artifacts.id, { onDelete: 'cascade' }),
  },
  (t) => [
    uniqueIndex('deployments_artifact_depends_unique').on(t.tenantId, t.name, t.combination),
    index('deployments_artifact_depends_artifact').on(t.artifactId),
  ],
)

/**
 * What a release (all artifacts of one name) carries of its own: tags and notes. The row exists
 * while the release has artifacts; `modified` moves when one is added, removed or edited.
 */
export const releases = sqliteTable(
  'deployments_releases',
  {
    tenantId: text().notNull().default(''),
    name: text().notNull(),
    modified: integer({ mode: 'timestamp_ms' }).notNull(),
    /** Lower-case, deduplicated, at most 20. */
    tags: text({ mode: 'json' }).$type<string[]>().notNull(),
    notes: text().notNull().default(''),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
)

/**
 * `pending`: a direct upload's link is out, its object may be arriving. `processing`: its object
 * is being checked. `uploading`: an upload naming its own `artifact_id` is writing its object (the
 * row claims the id, so a second upload of that id is refused before it writes anything).
 */
export type UploadIntentStatus = 'pending' | 'processing' | 'uploading'

/**
 * Direct uploads handed out and not yet settled, and ids claimed by uploads in flight: the object
 * at the artifact's blob key belongs to one of these until its owner either records the artifact
 * or removes the object. A `processing` or `uploading` row is claimed by one server process
 * (`claimedBy`) until `claimedUntil`, which that process keeps moving ahead while it works; a
 * claim left to run out is a dead process's, and another takes the work over.
 */
export const uploadIntents = sqliteTable(
  'deployments_upload_intents',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    status: text().$type<UploadIntentStatus>().notNull(),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
    /** When the upload link stops working (`uploading`: when its first claim ran out). */
    expiresTs: integer({ mode: 'timestamp_ms' }).notNull(),
    /** The server process working on it (an id new at each start); null while `pending`. */
    claimedBy: text(),
    /** When the claim runs out unless renewed. */
    claimedUntil: integer({ mode: 'timestamp_ms' }),
  },
  (t) => [
    index('deployments_upload_intents_tenant').on(t.tenantId, t.status),
    index('deployments_upload_intents_claim').on(t.status, t.claimedUntil),
  ],
)
