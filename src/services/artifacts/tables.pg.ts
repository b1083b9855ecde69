import { boolean, index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { int, json, ms } from '../../../db/pg-columns.ts'
import type { ArtifactInfo, Depends, Provides } from '../../artifact/header.ts'
import type { ArtifactUpdate } from '../../artifact/reader.ts'
import type { UploadIntentStatus } from './tables.ts'

/** The artifacts' tables on PostgreSQL (see tables.ts). */
export const artifacts = pgTable(
  'deployments_artifacts',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    name: text().notNull(),
    description: text().notNull().default(''),
    deviceTypes: json().$type<string[]>().notNull(),
    info: json().$type<ArtifactInfo>().notNull(),
    signed: boolean().notNull(),
    updates: json().$type<ArtifactUpdate[]>().notNull(),
    provides: json().$type<Provides>(),
    depends: json().$type<Depends>().notNull(),
    clearsProvides: json().$type<string[]>(),
    size: int().notNull(),
    modified: ms().notNull(),
  },
  (t) => [index('deployments_artifacts_name').on(t.tenantId, t.name)],
)

export const artifactDepends = pgTable(
  'deployments_artifact_depends',
  {
    tenantId: text().notNull().default(''),
    name: text().notNull(),
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

export const releases = pgTable(
  'deployments_releases',
  {
    tenantId: text().notNull().default(''),
    name: text().notNull(),
    modified: ms().notNull(),
    tags: json().$type<string[]>().notNull(),
    notes: text().notNull().default(''),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
)

export const uploadIntents = pgTable(
  'deployments_upload_intents',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    status: text().$type<UploadIntentStatus>().notNull(),
    createdTs: ms().notNull(),
    expiresTs: ms().notNull(),
    claimedBy: text(),
    claimedUntil: ms(),
  },
  (t) => [
    index('deployments_upload_intents_tenant').on(t.tenantId, t.status),
    index('deployments_upload_intents_claim').on(t.status, t.claimedUntil),
  ],
)
