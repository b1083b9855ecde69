import { and, asc, count, eq, inArray, isNull, lt, or, sql, sum } from 'drizzle-orm'
import type { Database, Window } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { outboxFor } from '../../events/outbox.ts'
import { type DependsCombination, decodeCombination, encodeCombination } from './depends.ts'
import type { ArtifactRow } from './model.ts'
import {
  type ArtifactFilter,
  type ArtifactSort,
  artifactQueries,
  dependsRows,
  sqliteDialect,
} from './store.queries.ts'
import { artifactDepends, artifacts, releases, type UploadIntentStatus, uploadIntents } from './tables.ts'

export type UploadIntentRow = typeof uploadIntents.$inferSelect
export type NewUploadIntent = typeof uploadIntents.$inferInsert

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0]

export type { ArtifactFilter, ArtifactSort, TextMatch } from './store.queries.ts'

export type InsertResult =
  | { inserted: true }
  | { inserted: false; conflict: Record<string, string> }
  /** The upload intent it was to settle is no longer held by its owner (gone, or taken over). */
  | { inserted: false; lost: true }

/** Which server process works on an upload intent, and until when unless it renews the claim. */
export type UploadClaim = { owner: string; until: Date }

/** The intent an artifact settles, and the owner that must still hold its claim. */
export type SettledIntent = { id: string; owner: string }

/** The statuses whose rows are claimed by a server process while it works on them. */
export const CLAIMED_STATUSES: UploadIntentStatus[] = ['processing', 'uploading']

const queries = artifactQueries(sqliteDialect, { artifacts, releases, artifactDepends })

/**
 * Artifacts (with their depends combinations and releases) and pending direct uploads.
 * Every write that must be atomic is one method (one transaction).
 */
export interface ArtifactsStore {
  /** Every artifact with this name (a release), in upload order. */
  findArtifactsByName(tenantId: string, name: string): Promise<ArtifactRow[]>
  /** One artifact, if it exists. */
  findArtifactById(tenantId: string, id: string): Promise<ArtifactRow | undefined>
  /**
   * Records an artifact and creates or bumps its release, unless another artifact of the same
   * name already claims one of its depends combinations: then nothing is written and the
   * combination is returned. `intent`: the upload intent it settles, removed in the same
   * transaction; when `intent.owner` no longer holds it, nothing is written and `lost` answered.
   */
  insertArtifact(
    row: ArtifactRow,
    combinations: DependsCombination[],
    intent?: SettledIntent,
  ): Promise<InsertResult>
  /** Sets the description; false when there is no such artifact. */
  updateDescription(tenantId: string, id: string, description: string, at: Date): Promise<boolean>
  /** Deletes the artifact (its depends combinations go with it) and updates its release. */
  deleteArtifact(tenantId: string, id: string, at: Date): Promise<ArtifactRow | undefined>
  /** Deletes every artifact of these releases, and the releases. */
  deleteArtifactsByNames(tenantId: string, names: string[]): Promise<ArtifactRow[]>
  /** The artifacts matching `filter`, sorted, optionally one page of them. */
  listArtifacts(
    tenantId: string,
    filter: ArtifactFilter,
    sort: ArtifactSort,
    window?: Window,
  ): Promise<ArtifactRow[]>
  /** How many artifacts match `filter`. */
  countArtifacts(tenantId: string, filter: ArtifactFilter): Promise<number>
  /** Bytes of every stored artifact of the tenant. */
  storageUsage(tenantId: string): Promise<number>
  /** True when an artifact row or a direct upload has this id (whatever its tenant): the orphan sweep's question. */
  isIdTaken(id: string): Promise<boolean>
  /** True when another artifact of this name already claims one of these combinations. */
  isCombinationTaken(tenantId: string, name: string, combinations: DependsCombination[]): Promise<boolean>
  /** Records a direct upload waiting for its object. */
  insertUploadIntent(row: NewUploadIntent): Promise<void>
  /** One direct upload, if it exists. */
  findUploadIntent(tenantId: string, id: string): Promise<UploadIntentRow | undefined>
  /**
   * Moves an intent from one status to another, claimed by `claim` when given; false when it was
   * not in `from` (or is gone).
   */
  setUploadIntentStatus(
    tenantId: string,
    id: string,
    from: UploadIntentStatus,
    to: UploadIntentStatus,
    claim?: UploadClaim,
  ): Promise<boolean>
  /** Forgets a direct upload. */
  deleteUploadIntent(tenantId: string, id: string): Promise<void>
  /**
   * Forgets a direct upload the server's checks refused and, in the same transaction, writes an
   * `artifact-upload-refused` event carrying `reason` for the tenant's listeners. With `owner`,
   * only while that owner holds its claim; false when nothing was forgotten.
   */
  refuseUploadIntent(tenantId: string, id: string, reason: string, owner?: string): Promise<boolean>
  /** Every intent in `status`, across tenants (start-up work). */
  listUploadIntents(status: UploadIntentStatus): Promise<UploadIntentRow[]>
  /**
   * Claims `id` for an upload about to write its object (an `uploading` intent held by
   * `claim.owner`), unless an artifact or an intent already has it, whatever its tenant: false then.
   * Of two claims of one id at once, on any number of instances, one wins.
   */
  claimArtifactId(tenantId: string, id: string, claim: UploadClaim, at: Date): Promise<boolean>
  /** Moves every claim `owner` holds to `until`; answers the ids it still holds. */
  renewUploadClaims(owner: string, until: Date): Promise<string[]>
  /** Moves one claim to `claim.until` if `claim.owner` still holds it; false when it does not. */
  renewUploadClaim(tenantId: string, id: string, claim: UploadClaim): Promise<boolean>
  /**
   * Claims for `claim.owner` the `processing` and `uploading` intents whose claim ran out before
   * `now` (or that have none), and answers them: the work of a server process that died, or
   * stopped and gave its claims up. Each is taken by one caller, however many look at once.
   */
  takeStaleUploadClaims(claim: UploadClaim, now: Date): Promise<UploadIntentRow[]>
  /** Forgets an intent while `owner` holds its claim; false when it does not. */
  releaseUploadClaim(tenantId: string, id: string, owner: string): Promise<boolean>
}

export function createArtifactsStore(db: Database): ArtifactsStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const ph = sql.placeholder
  const outbox = outboxFor(db)
  // Prepared once: deployments look artifacts up by name whenever a device asks for an update.
  const byName = preparedOnFirstUse(() =>
    db
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.tenantId, ph('tenantId')), eq(artifacts.name, ph('name'))))
      .orderBy(asc(sql`rowid`))
      .prepare(),
  )
  const byId = preparedOnFirstUse(() =>
    db
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.tenantId, ph('tenantId')), eq(artifacts.id, ph('id'))))
      .prepare(),
  )

  const intentWhere = (tenantId: string, id: string) =>
    and(eq(uploadIntents.tenantId, tenantId), eq(uploadIntents.id, id))
  /** The intent, while `owner` holds its claim. */
  const held = (tenantId: string, intent: SettledIntent) =>
    and(intentWhere(tenantId, intent.id), eq(uploadIntents.claimedBy, intent.owner))

  /** The release's artifacts changed: bump it, or drop it when it has none left (tags and notes go too). */
  function touchRelease(tx: Transaction, tenantId: string, name: string, at: Date) {
    const left = tx
      .select({ id: artifacts.id })
      .from(artifacts)
      .where(and(eq(artifacts.tenantId, tenantId), eq(artifacts.name, name)))
      .limit(1)
      .get()
    if (!left) {
      tx.delete(releases)
        .where(and(eq(releases.tenantId, tenantId), eq(releases.name, name)))
        .run()
      return
    }
    tx.insert(releases)
      .values({ tenantId, name, modified: at, tags: [], notes: '' })
      .onConflictDoUpdate({ target: [releases.tenantId, releases.name], set: { modified: at } })
      .run()
  }

  return {
    /** Every artifact with this name (a release), in upload order. */
    findArtifactsByName: async (tenantId: string, name: string): Promise<ArtifactRow[]> =>
      byName.all({ tenantId, name }),

    findArtifactById: async (tenantId: string, id: string): Promise<ArtifactRow | undefined> =>
      byId.get({ tenantId, id }),

    /**
     * Records an artifact and creates or bumps its release, unless another artifact of the same
     * name already claims one of its depends combinations: then nothing is written and the
     * combination is returned.
     */
    async insertArtifact(
      row: ArtifactRow,
      combinations: DependsCombination[],
      /** The upload intent this artifact settles, removed in the same transaction. */
      intent?: SettledIntent,
    ): Promise<InsertResult> {
      const encoded = combinations.map(encodeCombination)
      return db.transaction((tx): InsertResult => {
        if (
          intent &&
          !tx.select({ id: uploadIntents.id }).from(uploadIntents).where(held(row.tenantId, intent)).get()
        )
          return { inserted: false, lost: true }
        const taken = tx
          .select({ combination: artifactDepends.combination })
          .from(artifactDepends)
          .where(queries.claimed(row.tenantId, row.name, encoded))
          .limit(1)
          .get()
        if (taken) return { inserted: false, conflict: decodeCombination(taken.combination) }
        tx.insert(artifacts).values(row).run()
        if (encoded.length > 0) {
          tx.insert(artifactDepends).values(dependsRows(row, encoded)).run()
        }
        touchRelease(tx, row.tenantId, row.name, row.modified)
        if (intent) tx.delete(uploadIntents).where(held(row.tenantId, intent)).run()
        return { inserted: true }
      })
    },

    /** Sets the description; false when there is no such artifact. */
    async updateDescription(tenantId: string, id: string, description: string, at: Date): Promise<boolean> {
      return db.transaction((tx) => {
        const row = tx
          .update(artifacts)
          .set({ description, modified: at })
          .where(and(eq(artifacts.tenantId, tenantId), eq(artifacts.id, id)))
          .returning({ name: artifacts.name })
          .get()
        if (!row) return false
        touchRelease(tx, tenantId, row.name, at)
        return true
      })
    },

    /** Deletes the artifact (its depends combinations go with it) and updates its release. */
    async deleteArtifact(tenantId: string, id: string, at: Date): Promise<ArtifactRow | undefined> {
      return db.transaction((tx) => {
        const row = tx
          .delete(artifacts)
          .where(and(eq(artifacts.tenantId, tenantId), eq(artifacts.id, id)))
          .returning()
          .get()
        if (row) touchRelease(tx, tenantId, row.name, at)
        return row
      })
    },

    /** Deletes every artifact of these releases, and the releases. */
    async deleteArtifactsByNames(tenantId: string, names: string[]): Promise<ArtifactRow[]> {
      return db.transaction((tx) => {
        const rows = tx
          .delete(artifacts)
          .where(and(eq(artifacts.tenantId, tenantId), inArray(artifacts.name, names)))
          .returning()
          .all()
        tx.delete(releases)
          .where(and(eq(releases.tenantId, tenantId), inArray(releases.name, names)))
          .run()
        return rows
      })
    },

    async listArtifacts(
      tenantId: string,
      filter: ArtifactFilter,
      sort: ArtifactSort,
      window?: Window,
    ): Promise<ArtifactRow[]> {
      const query = db
        .select()
        .from(artifacts)
        .where(and(...queries.artifactConditions(tenantId, filter)))
        .orderBy(...queries.artifactOrder(sort))
      return window ? query.limit(window.limit).offset(window.offset).all() : query.all()
    },

    countArtifacts: async (tenantId: string, filter: ArtifactFilter): Promise<number> =>
      db
        .select({ n: count() })
        .from(artifacts)
        .where(and(...queries.artifactConditions(tenantId, filter)))
        .get()?.n ?? 0,

    /** Bytes of every stored artifact of the tenant. */
    storageUsage: async (tenantId: string): Promise<number> =>
      Number(
        db
          .select({ total: sum(artifacts.size) })
          .from(artifacts)
          .where(eq(artifacts.tenantId, tenantId))
          .get()?.total ?? 0,
      ),

    /** True when an artifact row or a direct upload has this id (whatever its tenant): the orphan sweep's question. */
    isIdTaken: async (id: string): Promise<boolean> =>
      db.select({ id: artifacts.id }).from(artifacts).where(eq(artifacts.id, id)).get() !== undefined ||
      db.select({ id: uploadIntents.id }).from(uploadIntents).where(eq(uploadIntents.id, id)).get() !==
        undefined,

    /** True when another artifact of this name already claims one of these combinations. */
    isCombinationTaken: async (
      tenantId: string,
      name: string,
      combinations: DependsCombination[],
    ): Promise<boolean> =>
      db
        .select({ name: artifactDepends.name })
        .from(artifactDepends)
        .where(queries.claimed(tenantId, name, combinations.map(encodeCombination)))
        .limit(1)
        .get() !== undefined,

    insertUploadIntent: async (row: NewUploadIntent): Promise<void> => {
      db.insert(uploadIntents).values(row).run()
    },

    findUploadIntent: async (tenantId: string, id: string): Promise<UploadIntentRow | undefined> =>
      db
        .select()
        .from(uploadIntents)
        .where(and(eq(uploadIntents.tenantId, tenantId), eq(uploadIntents.id, id)))
        .get(),

    /** Moves an intent from one status to another; false when it was not in `from` (or is gone). */
    setUploadIntentStatus: async (
      tenantId: string,
      id: string,
      from: UploadIntentStatus,
      to: UploadIntentStatus,
      claim?: UploadClaim,
    ) =>
      db
        .update(uploadIntents)
        .set({ status: to, ...(claim && { claimedBy: claim.owner, claimedUntil: claim.until }) })
        .where(
          and(eq(uploadIntents.tenantId, tenantId), eq(uploadIntents.id, id), eq(uploadIntents.status, from)),
        )
        .returning({ id: uploadIntents.id })
        .get() !== undefined,

    deleteUploadIntent: async (tenantId: string, id: string): Promise<void> => {
      db.delete(uploadIntents)
        .where(and(eq(uploadIntents.tenantId, tenantId), eq(uploadIntents.id, id)))
        .run()
    },

    refuseUploadIntent: async (tenantId: string, id: string, reason: string, owner?: string) =>
      db.transaction((tx) => {
        const where = owner === undefined ? intentWhere(tenantId, id) : held(tenantId, { id, owner })
        if (!tx.delete(uploadIntents).where(where).returning({ id: uploadIntents.id }).get()) return false
        outbox.append({ tenantId, type: 'artifact-upload-refused', subject: id, data: { id, reason } })
        return true
      }),

    /** Every intent in `status`, across tenants (start-up work). */
    listUploadIntents: async (status: UploadIntentStatus): Promise<UploadIntentRow[]> =>
      db.select().from(uploadIntents).where(eq(uploadIntents.status, status)).all(),

    claimArtifactId: async (tenantId: string, id: string, claim: UploadClaim, at: Date) =>
      db.transaction((tx) => {
        const taken =
          tx.select({ id: artifacts.id }).from(artifacts).where(eq(artifacts.id, id)).get() ??
          tx.select({ id: uploadIntents.id }).from(uploadIntents).where(eq(uploadIntents.id, id)).get()
        if (taken) return false
        tx.insert(uploadIntents)
          .values({
            id,
            tenantId,
            status: 'uploading',
            createdTs: at,
            expiresTs: claim.until,
            ...claimOf(claim),
          })
          .run()
        return true
      }),

    renewUploadClaims: async (owner: string, until: Date): Promise<string[]> =>
      db
        .update(uploadIntents)
        .set({ claimedUntil: until })
        .where(eq(uploadIntents.claimedBy, owner))
        .returning({ id: uploadIntents.id })
        .all()
        .map((row) => row.id),

    renewUploadClaim: async (tenantId: string, id: string, claim: UploadClaim): Promise<boolean> =>
      db
        .update(uploadIntents)
        .set({ claimedUntil: claim.until })
        .where(held(tenantId, { id, owner: claim.owner }))
        .returning({ id: uploadIntents.id })
        .get() !== undefined,

    // One transaction: nothing else writes meanwhile, so each stale intent is taken once.
    takeStaleUploadClaims: async (claim: UploadClaim, now: Date): Promise<UploadIntentRow[]> =>
      db
        .update(uploadIntents)
        .set(claimOf(claim))
        .where(
          and(
            inArray(uploadIntents.status, CLAIMED_STATUSES),
            or(isNull(uploadIntents.claimedUntil), lt(uploadIntents.claimedUntil, now)),
          ),
        )
        .returning()
        .all(),

    releaseUploadClaim: async (tenantId: string, id: string, owner: string): Promise<boolean> =>
      db
        .delete(uploadIntents)
        .where(held(tenantId, { id, owner }))
        .returning({ id: uploadIntents.id })
        .get() !== undefined,
  }
}

/** The columns of a claim. */
export const claimOf = (claim: UploadClaim) => ({ claimedBy: claim.owner, claimedUntil: claim.until })
