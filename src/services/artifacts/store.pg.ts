import { and, asc, count, eq, inArray, isNull, lt, or, sql, sum } from 'drizzle-orm'
import type { PgDatabase, PgTransaction } from '../../../db/pg.ts'
import { pgOutboxFor } from '../../events/outbox.pg.ts'
import { decodeCombination, encodeCombination } from './depends.ts'
import { artifactQueries, dependsRows, pgDialect } from './store.queries.ts'
import { type ArtifactsStore, CLAIMED_STATUSES, claimOf, type SettledIntent } from './store.ts'
import { artifactDepends, artifacts, releases, uploadIntents } from './tables.pg.ts'

const queries = artifactQueries(pgDialect, { artifacts, releases, artifactDepends })

/**
 * Upload order: the identity column the `pg_artifacts_upload_order` migration adds. It stands for
 * SQLite's implicit rowid, so it is not declared in tables.pg.ts and rows read the same on both engines.
 */
export const uploadOrder = sql`deployments_artifacts.upload_seq`

/** The first key of the transaction-scoped advisory locks on releases ("artf" in ASCII). */
const RELEASE_LOCK = 0x61727466

/** The second key: one lock per release, any 32-bit value (two releases sharing one only wait for each other). */
const releaseKey = (tenantId: string, name: string) => Bun.hash.crc32(`${tenantId}\n${name}`) | 0

/**
 * Takes the locks of these releases until the transaction ends, smallest key first so that two
 * writers never wait for each other in a circle. Every write that adds or removes a release's
 * artifacts holds its lock before it reads them, so instances sharing the database see each
 * other's artifacts when deciding on depends conflicts and on the release row.
 */
async function lockReleases(tx: PgTransaction, tenantId: string, names: string[]): Promise<void> {
  const keys = [...new Set(names.map((name) => releaseKey(tenantId, name)))].sort((a, b) => a - b)
  if (keys.length === 0) return
  await tx.execute(
    sql`SELECT pg_advisory_xact_lock(${RELEASE_LOCK}, k) FROM unnest(${`{${keys.join(',')}}`}::int4[]) WITH ORDINALITY AS l(k, n) ORDER BY n`,
  )
}

/** The artifacts store on PostgreSQL (see store.ts for what each method promises). */
export function createPgArtifactsStore(db: PgDatabase): ArtifactsStore {
  // Long as a whole: one closure over the helpers its methods share; each method is short.
  const outbox = pgOutboxFor(db)
  const artifactWhere = (tenantId: string, id: string) =>
    and(eq(artifacts.tenantId, tenantId), eq(artifacts.id, id))
  const intentWhere = (tenantId: string, id: string) =>
    and(eq(uploadIntents.tenantId, tenantId), eq(uploadIntents.id, id))
  /** The intent, while `owner` holds its claim. */
  const held = (tenantId: string, intent: SettledIntent) =>
    and(intentWhere(tenantId, intent.id), eq(uploadIntents.claimedBy, intent.owner))

  /** The release's artifacts changed (its lock held): bump it, or drop it when it has none left. */
  async function touchRelease(tx: PgTransaction, tenantId: string, name: string, at: Date) {
    const where = and(eq(artifacts.tenantId, tenantId), eq(artifacts.name, name))
    const [left] = await tx.select({ id: artifacts.id }).from(artifacts).where(where).limit(1)
    if (!left) {
      await tx.delete(releases).where(and(eq(releases.tenantId, tenantId), eq(releases.name, name)))
      return
    }
    await tx
      .insert(releases)
      .values({ tenantId, name, modified: at, tags: [], notes: '' })
      .onConflictDoUpdate({ target: [releases.tenantId, releases.name], set: { modified: at } })
  }

  /** The name of an artifact (names never change), so a write can lock its release first. */
  async function nameOf(tenantId: string, id: string): Promise<string | undefined> {
    const [row] = await db.select({ name: artifacts.name }).from(artifacts).where(artifactWhere(tenantId, id))
    return row?.name
  }

  return {
    findArtifactsByName: (tenantId, name) =>
      db
        .select()
        .from(artifacts)
        .where(and(eq(artifacts.tenantId, tenantId), eq(artifacts.name, name)))
        .orderBy(asc(uploadOrder)),

    async findArtifactById(tenantId, id) {
      const [row] = await db.select().from(artifacts).where(artifactWhere(tenantId, id))
      return row
    },

    async insertArtifact(row, combinations, intent) {
      const encoded = combinations.map(encodeCombination)
      return db.transaction(async (tx) => {
        // Locked until the commit: a takeover of the claim waits, then finds it settled.
        if (intent) {
          const [claim] = await tx
            .select({ id: uploadIntents.id })
            .from(uploadIntents)
            .where(held(row.tenantId, intent))
            .for('update')
          if (!claim) return { inserted: false, lost: true }
        }
        await lockReleases(tx, row.tenantId, [row.name])
        const [taken] = await tx
          .select({ combination: artifactDepends.combination })
          .from(artifactDepends)
          .where(queries.claimed(row.tenantId, row.name, encoded))
          .limit(1)
        if (taken) return { inserted: false, conflict: decodeCombination(taken.combination) }
        await tx.insert(artifacts).values(row)
        if (encoded.length > 0) {
          await tx.insert(artifactDepends).values(dependsRows(row, encoded))
        }
        await touchRelease(tx, row.tenantId, row.name, row.modified)
        if (intent) await tx.delete(uploadIntents).where(held(row.tenantId, intent))
        return { inserted: true }
      })
    },

    async updateDescription(tenantId, id, description, at) {
      const name = await nameOf(tenantId, id)
      if (name === undefined) return false
      return db.transaction(async (tx) => {
        await lockReleases(tx, tenantId, [name])
        const updated = await tx
          .update(artifacts)
          .set({ description, modified: at })
          .where(artifactWhere(tenantId, id))
          .returning({ id: artifacts.id })
        if (updated.length === 0) return false
        await touchRelease(tx, tenantId, name, at)
        return true
      })
    },

    async deleteArtifact(tenantId, id, at) {
      const name = await nameOf(tenantId, id)
      if (name === undefined) return undefined
      return db.transaction(async (tx) => {
        await lockReleases(tx, tenantId, [name])
        const [row] = await tx.delete(artifacts).where(artifactWhere(tenantId, id)).returning()
        if (row) await touchRelease(tx, tenantId, name, at)
        return row
      })
    },

    deleteArtifactsByNames: (tenantId, names) =>
      db.transaction(async (tx) => {
        await lockReleases(tx, tenantId, names)
        const rows = await tx
          .delete(artifacts)
          .where(and(eq(artifacts.tenantId, tenantId), inArray(artifacts.name, names)))
          .returning()
        await tx.delete(releases).where(and(eq(releases.tenantId, tenantId), inArray(releases.name, names)))
        return rows
      }),

    listArtifacts(tenantId, filter, sort, window) {
      const query = db
        .select()
        .from(artifacts)
        .where(and(...queries.artifactConditions(tenantId, filter)))
        .orderBy(...queries.artifactOrder(sort))
      return window ? query.limit(window.limit).offset(window.offset) : query
    },

    async countArtifacts(tenantId, filter) {
      const [row] = await db
        .select({ n: count() })
        .from(artifacts)
        .where(and(...queries.artifactConditions(tenantId, filter)))
      return row?.n ?? 0
    },

    async storageUsage(tenantId) {
      const [row] = await db
        .select({ total: sum(artifacts.size) })
        .from(artifacts)
        .where(eq(artifacts.tenantId, tenantId))
      return Number(row?.total ?? 0)
    },

    async isIdTaken(id) {
      const [row] = await db.execute<{ taken: boolean }>(
        sql`SELECT EXISTS (SELECT 1 FROM ${artifacts} WHERE ${artifacts.id} = ${id})
                OR EXISTS (SELECT 1 FROM ${uploadIntents} WHERE ${uploadIntents.id} = ${id}) AS taken`,
      )
      return row?.taken === true
    },

    async isCombinationTaken(tenantId, name, combinations) {
      const rows = await db
        .select({ name: artifactDepends.name })
        .from(artifactDepends)
        .where(queries.claimed(tenantId, name, combinations.map(encodeCombination)))
        .limit(1)
      return rows.length > 0
    },

    async insertUploadIntent(row) {
      await db.insert(uploadIntents).values(row)
    },

    async findUploadIntent(tenantId, id) {
      const [row] = await db.select().from(uploadIntents).where(intentWhere(tenantId, id))
      return row
    },

    setUploadIntentStatus: async (tenantId, id, from, to, claim) =>
      (
        await db
          .update(uploadIntents)
          .set({ status: to, ...(claim && claimOf(claim)) })
          .where(and(intentWhere(tenantId, id), eq(uploadIntents.status, from)))
          .returning({ id: uploadIntents.id })
      ).length > 0,

    async deleteUploadIntent(tenantId, id) {
      await db.delete(uploadIntents).where(intentWhere(tenantId, id))
    },

    refuseUploadIntent: (tenantId, id, reason, owner) =>
      db.transaction(async (tx) => {
        const where = owner === undefined ? intentWhere(tenantId, id) : held(tenantId, { id, owner })
        const gone = await tx.delete(uploadIntents).where(where).returning({ id: uploadIntents.id })
        if (gone.length === 0) return false
        await outbox.append(tx, {
          tenantId,
          type: 'artifact-upload-refused',
          subject: id,
          data: { id, reason },
        })
        return true
      }),

    listUploadIntents: (status) => db.select().from(uploadIntents).where(eq(uploadIntents.status, status)),

    async claimArtifactId(tenantId, id, claim, at) {
      // The primary key decides between two claims of one id; an intent being settled into an
      // artifact holds its row until it commits, so the artifact is seen below once it exists.
      const claimed = await db
        .insert(uploadIntents)
        .values({
          id,
          tenantId,
          status: 'uploading',
          createdTs: at,
          expiresTs: claim.until,
          ...claimOf(claim),
        })
        .onConflictDoNothing()
        .returning({ id: uploadIntents.id })
      if (claimed.length === 0) return false
      const [taken] = await db.select({ id: artifacts.id }).from(artifacts).where(eq(artifacts.id, id))
      if (!taken) return true
      await db.delete(uploadIntents).where(held(tenantId, { id, owner: claim.owner }))
      return false
    },

    renewUploadClaims: async (owner, until) =>
      (
        await db
          .update(uploadIntents)
          .set({ claimedUntil: until })
          .where(eq(uploadIntents.claimedBy, owner))
          .returning({ id: uploadIntents.id })
      ).map((row) => row.id),

    renewUploadClaim: async (tenantId, id, claim) =>
      (
        await db
          .update(uploadIntents)
          .set({ claimedUntil: claim.until })
          .where(held(tenantId, { id, owner: claim.owner }))
          .returning({ id: uploadIntents.id })
      ).length > 0,

    takeStaleUploadClaims(claim, now) {
      const stale = and(
        inArray(uploadIntents.status, CLAIMED_STATUSES),
        or(isNull(uploadIntents.claimedUntil), lt(uploadIntents.claimedUntil, now)),
      )
      // SKIP LOCKED: instances looking at once each take different intents, none waits on another.
      const candidates = db
        .select({ id: uploadIntents.id })
        .from(uploadIntents)
        .where(stale)
        .limit(100)
        .for('update', { skipLocked: true })
      return db
        .update(uploadIntents)
        .set(claimOf(claim))
        .where(and(inArray(uploadIntents.id, candidates), stale))
        .returning()
    },

    releaseUploadClaim: async (tenantId, id, owner) =>
      (
        await db
          .delete(uploadIntents)
          .where(held(tenantId, { id, owner }))
          .returning({ id: uploadIntents.id })
      ).length > 0,
  }
}
