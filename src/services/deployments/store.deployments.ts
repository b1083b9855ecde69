import { and, asc, count, desc, eq, inArray, max, type SQL, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { createDeploymentEvents } from './events.ts'
import type { DeploymentStatus, DeviceDeploymentStatus, Stats } from './status.ts'
import type { EitherEngine } from './steps.ts'
import { type DeploymentQuery, queryConditions, rowConditions } from './store.query.ts'
import {
  STAT_KEYS,
  STAT_RETURNING,
  type StatKey,
  type StatsAfter,
  statsAfter,
  statsOf,
  statValues,
} from './store.stats.ts'
import { deploymentDevices, deploymentLogs, deployments, type LogMessage } from './tables.ts'

export type DeploymentRow = typeof deployments.$inferSelect

/** Rows per INSERT when writing a device list (6 bound values each, well under either engine's limit). */
const DEVICE_LIST_CHUNK = 2000

/**
 * A device list's rows, in chunks of one INSERT each: `deviceIds[i]` in phase `phaseOf(i)`, at
 * position `first + i` (both engines write lists through this).
 */
export function* deviceListChunks(
  row: Pick<DeploymentRow, 'tenantId' | 'id' | 'created'>,
  deviceIds: readonly string[],
  phaseOf: (i: number) => number,
  first = 0,
) {
  const created = row.created.getTime()
  for (let i = 0; i < deviceIds.length; i += DEVICE_LIST_CHUNK) {
    yield deviceIds.slice(i, i + DEVICE_LIST_CHUNK).map((deviceId, j) => ({
      ...{ tenantId: row.tenantId, deviceId, created, deploymentId: row.id },
      ...{ phase: phaseOf(i + j), position: first + i + j },
    }))
  }
}

/**
 * Rows of deployments, their device lists, counts and device logs: the SQLite statements the
 * deployments store composes inside its transactions. Synchronous (bun:sqlite is); only the
 * store and the rules it runs inside a transaction (transitions, gates, pick-up) use them.
 */
export interface DeploymentRows {
  /** Creation time (Unix ms) of the tenant's oldest active deployment; null when none is active. */
  oldestActiveCreated(tenantId: string): number | null
  /** One deployment, if it exists. */
  findDeployment(tenantId: string, id: string): DeploymentRow | undefined
  /**
   * The deployment, held by the transaction until it ends: another transaction that holds it
   * waits (on PostgreSQL; SQLite's write transactions exclude each other already).
   */
  lockDeployment(tenantId: string, id: string): DeploymentRow | undefined
  /** The newest creation time of the tenant's deployments (new ones are made strictly later). */
  latestCreated(tenantId: string): Date | undefined
  /**
   * Inserts the deployment and its device list (`phases[i]`: the phase of `deviceIds[i]`, 0 when
   * absent); false when an identical one is still active.
   */
  insertDeployment(row: DeploymentRow, deviceIds: readonly string[], phases?: readonly number[]): boolean
  /**
   * Adds devices to the device list of an active deployment (those already in it are skipped), in
   * `phase`; they count as pending. Answers the ids added.
   */
  addDevices(row: DeploymentRow, deviceIds: readonly string[], phase: number): string[]
  /** The tenant's active dynamic deployments, oldest first. */
  activeDynamic(tenantId: string): DeploymentRow[]
  /** A page of the deployments matching `query`, in its order. */
  listDeployments(tenantId: string, query: DeploymentQuery, offset: number, limit: number): DeploymentRow[]
  /** How many deployments match `query`. */
  countDeployments(tenantId: string, query: DeploymentQuery): number
  /** The deployments of these ids that exist, in no particular order. */
  findDeploymentsByIds(tenantId: string, ids: readonly string[]): DeploymentRow[]
  /** The device list, in the order it was given. */
  listDeviceIds(tenantId: string, deploymentId: string): string[]
  /** Moves one device from `from` (none: a device not counted yet) to `to`; answers the counts after. */
  moveStat(
    tenantId: string,
    id: string,
    from: DeviceDeploymentStatus | null,
    to: DeviceDeploymentStatus,
  ): StatsAfter | undefined
  /** Replaces every count. */
  setStats(tenantId: string, id: string, stats: Stats): void
  /** Sets the deployment's status (and when it finished). */
  setStatus(tenantId: string, id: string, status: DeploymentStatus, finished: Date | null): void
  /** One more device picked the deployment up. */
  addDeviceCount(tenantId: string, id: string): void
  /** Adds an artifact's size to the bytes the deployment hands out. */
  addTotalSize(tenantId: string, id: string, size: number): void
  /** Records an artifact handed out that was uploaded after the deployment was made. */
  addArtifact(tenantId: string, id: string, artifactId: string): void
  /** Whether any deployment deploys artifacts of this name. */
  usesArtifactName(tenantId: string, name: string): boolean
  /** Ids of the unfinished deployments of any of these artifact names. */
  activeDeploymentIds(tenantId: string, artifactNames: readonly string[]): string[]
  /** Stores the device's log for the deployment, replacing an earlier one. */
  saveLog(tenantId: string, deploymentId: string, deviceId: string, messages: LogMessage[]): void
  /** The device's log for the deployment, if it sent one. */
  findLog(tenantId: string, deploymentId: string, deviceId: string): LogMessage[] | undefined
}

/** What both engines' deployment rows offer (SQLite's poll memo is its own). */
export type SharedDeploymentRows = Omit<DeploymentRows, 'oldestActiveCreated'>
/** The deployment rows as the shared rules use them, on either engine. */
export type RuleDeploymentRows = EitherEngine<SharedDeploymentRows>

export function createDeploymentRows(db: Database): DeploymentRows {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const ph = sql.placeholder
  const events = createDeploymentEvents(db)
  const oldestActive = preparedOnFirstUse(() =>
    db
      .select({ created: sql<number | null>`min(${deployments.created})` })
      .from(deployments)
      .where(and(eq(deployments.tenantId, ph('tenantId')), sql`finished IS NULL`))
      .prepare(),
  )
  /**
   * The poll's first question, "when was the tenant's oldest active deployment made, if any is
   * active?", kept in memory: every poll of an idle fleet stops here without touching the
   * database, and a poll during a rollout only looks at device lists from then on. Only this store
   * makes a deployment or finishes one: making one can only lower the answer, and does so at
   * once; finishing one forgets the answer, which the next poll looks up again. A transaction
   * rolled back after either leaves at worst an answer too early, which costs a wider look, never
   * one that hides a deployment.
   */
  const oldestActiveByTenant = new Map<string, number | null>()
  const byId = preparedOnFirstUse(() =>
    db
      .select()
      .from(deployments)
      .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
      .prepare(),
  )
  const nextPosition = preparedOnFirstUse(() =>
    db
      .select({ next: sql<number>`coalesce(max(${deploymentDevices.position}) + 1, 0)` })
      .from(deploymentDevices)
      .where(
        and(
          eq(deploymentDevices.tenantId, ph('tenantId')),
          eq(deploymentDevices.deploymentId, ph('deploymentId')),
        ),
      )
      .prepare(),
  )
  const addDeviceCount = preparedOnFirstUse(() =>
    db
      .update(deployments)
      .set({ deviceCount: sql`${deployments.deviceCount} + 1` })
      .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
      .prepare(),
  )
  const addTotalSize = preparedOnFirstUse(() =>
    db
      .update(deployments)
      .set({ totalSize: sql`${deployments.totalSize} + ${ph('size')}` })
      .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
      .prepare(),
  )
  const setStatus = preparedOnFirstUse(() =>
    db
      .update(deployments)
      .set({ status: sql`${ph('status')}`, finished: sql`${ph('finished')}` })
      .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
      .prepare(),
  )

  // One statement per (from, to) pair, prepared when first needed: a status report moves two counts.
  const moves = new Map<string, ReturnType<typeof prepareMove>>()
  function prepareMove(from: DeviceDeploymentStatus | null, to: DeviceDeploymentStatus) {
    const toKey = STAT_KEYS[to]
    const set: Partial<Record<StatKey, SQL>> = { [toKey]: sql`${deployments[toKey]} + 1` }
    if (from !== null) set[STAT_KEYS[from]] = sql`${deployments[STAT_KEYS[from]]} - 1`
    return db
      .update(deployments)
      .set(set)
      .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
      .returning(STAT_RETURNING)
      .prepare()
  }

  return {
    /** Creation time (Unix ms) of the tenant's oldest active deployment; null when none is active. */
    oldestActiveCreated(tenantId: string): number | null {
      let oldest = oldestActiveByTenant.get(tenantId)
      if (oldest === undefined) {
        oldest = oldestActive.get({ tenantId })?.created ?? null
        oldestActiveByTenant.set(tenantId, oldest)
      }
      return oldest
    },

    findDeployment: (tenantId: string, id: string): DeploymentRow | undefined => byId.get({ tenantId, id }),

    lockDeployment: (tenantId: string, id: string): DeploymentRow | undefined => byId.get({ tenantId, id }),

    /** The newest creation time of the tenant's deployments (new ones are made strictly later). */
    latestCreated: (tenantId: string): Date | undefined =>
      db
        .select({ created: max(deployments.created) })
        .from(deployments)
        .where(eq(deployments.tenantId, tenantId))
        .get()?.created ?? undefined,

    insertDeployment(row: DeploymentRow, deviceIds: readonly string[], phases?: readonly number[]): boolean {
      const twin = db
        .select({ id: deployments.id })
        .from(deployments)
        .where(
          and(
            eq(deployments.tenantId, row.tenantId),
            eq(deployments.checksum, row.checksum),
            sql`finished IS NULL`,
          ),
        )
        .get()
      if (twin) return false
      db.insert(deployments).values(row).run()
      events.created(row)
      const oldest = oldestActiveByTenant.get(row.tenantId)
      if (oldest !== undefined) {
        oldestActiveByTenant.set(
          row.tenantId,
          Math.min(oldest ?? Number.POSITIVE_INFINITY, row.created.getTime()),
        )
      }
      for (const chunk of deviceListChunks(row, deviceIds, (i) => phases?.[i] ?? 0)) {
        db.insert(deploymentDevices).values(chunk).onConflictDoNothing().run()
      }
      return true
    },

    addDevices(row: DeploymentRow, deviceIds: readonly string[], phase: number): string[] {
      if (deviceIds.length === 0) return []
      const next = nextPosition.get({ tenantId: row.tenantId, deploymentId: row.id })?.next ?? 0
      const added: string[] = []
      for (const chunk of deviceListChunks(row, deviceIds, () => phase, next)) {
        for (const entry of db
          .insert(deploymentDevices)
          .values(chunk)
          .onConflictDoNothing()
          .returning({ deviceId: deploymentDevices.deviceId })
          .all())
          added.push(entry.deviceId)
      }
      if (added.length > 0) {
        db.update(deployments)
          .set({ statPending: sql`${deployments.statPending} + ${added.length}` })
          .where(and(eq(deployments.tenantId, row.tenantId), eq(deployments.id, row.id)))
          .run()
      }
      return added
    },

    activeDynamic: (tenantId: string): DeploymentRow[] =>
      db
        .select()
        .from(deployments)
        .where(and(eq(deployments.tenantId, tenantId), sql`finished IS NULL`, eq(deployments.dynamic, true)))
        .orderBy(asc(deployments.created))
        .all(),

    listDeployments(
      tenantId: string,
      query: DeploymentQuery,
      offset: number,
      limit: number,
    ): DeploymentRow[] {
      const order = query.sort === 'asc' ? asc : desc
      return db
        .select()
        .from(deployments)
        .where(queryConditions(tenantId, query))
        .orderBy(order(deployments.created), order(deployments.id))
        .limit(limit)
        .offset(offset)
        .all()
    },

    countDeployments: (tenantId: string, query: DeploymentQuery): number =>
      db.select({ n: count() }).from(deployments).where(queryConditions(tenantId, query)).get()?.n ?? 0,

    findDeploymentsByIds: (tenantId: string, ids: readonly string[]): DeploymentRow[] =>
      db
        .select()
        .from(deployments)
        .where(and(eq(deployments.tenantId, tenantId), inArray(deployments.id, [...ids])))
        .all(),

    /** The device list, in the order it was given. */
    listDeviceIds: (tenantId: string, deploymentId: string): string[] =>
      db
        .select({ deviceId: deploymentDevices.deviceId })
        .from(deploymentDevices)
        .where(
          and(eq(deploymentDevices.tenantId, tenantId), eq(deploymentDevices.deploymentId, deploymentId)),
        )
        .orderBy(asc(deploymentDevices.position))
        .all()
        .map((row) => row.deviceId),

    /** Moves one device from `from` (none: a device not counted yet) to `to`; answers the counts after. */
    moveStat(
      tenantId: string,
      id: string,
      from: DeviceDeploymentStatus | null,
      to: DeviceDeploymentStatus,
    ): StatsAfter | undefined {
      const key = `${from}>${to}`
      let move = moves.get(key)
      if (!move) {
        move = prepareMove(from, to)
        moves.set(key, move)
      }
      const row = move.get({ tenantId, id })
      return row && statsAfter(row)
    },

    setStats(tenantId: string, id: string, stats: Stats): void {
      db.update(deployments)
        .set(statValues(stats))
        .where(and(eq(deployments.tenantId, tenantId), eq(deployments.id, id)))
        .run()
    },

    setStatus(tenantId: string, id: string, status: DeploymentStatus, finished: Date | null): void {
      setStatus.run({ tenantId, id, status, finished: finished?.getTime() ?? null })
      const after = byId.get({ tenantId, id })
      if (after) events.statusChanged(after, status, statsOf(after))
      if (finished) oldestActiveByTenant.delete(tenantId)
    },

    addDeviceCount: (tenantId: string, id: string): void => {
      addDeviceCount.run({ tenantId, id })
    },

    addTotalSize: (tenantId: string, id: string, size: number): void => {
      addTotalSize.run({ tenantId, id, size })
    },

    /** Records an artifact handed out that was uploaded after the deployment was made. */
    addArtifact(tenantId: string, id: string, artifactId: string): void {
      db.update(deployments)
        .set({
          artifacts: sql`json_insert(${deployments.artifacts}, '$[#]', ${artifactId})`,
        })
        .where(
          and(
            eq(deployments.tenantId, tenantId),
            eq(deployments.id, id),
            sql`NOT EXISTS (SELECT 1 FROM json_each(${deployments.artifacts}) WHERE value = ${artifactId})`,
          ),
        )
        .run()
    },

    /** Whether any deployment deploys artifacts of this name. */
    usesArtifactName: (tenantId: string, name: string): boolean =>
      db
        .select({ id: deployments.id })
        .from(deployments)
        .where(and(eq(deployments.tenantId, tenantId), eq(deployments.artifactName, name)))
        .limit(1)
        .get() !== undefined,

    activeDeploymentIds: (tenantId: string, artifactNames: readonly string[]): string[] =>
      artifactNames.length === 0
        ? []
        : db
            .select({ id: deployments.id })
            .from(deployments)
            .where(rowConditions.activeOfNames(tenantId, artifactNames))
            .all()
            .map((row) => row.id),

    saveLog(tenantId: string, deploymentId: string, deviceId: string, messages: LogMessage[]): void {
      db.insert(deploymentLogs)
        .values({ tenantId, deploymentId, deviceId, messages })
        .onConflictDoUpdate({
          target: [deploymentLogs.tenantId, deploymentLogs.deploymentId, deploymentLogs.deviceId],
          set: { messages },
        })
        .run()
    },

    findLog: (tenantId: string, deploymentId: string, deviceId: string): LogMessage[] | undefined =>
      db
        .select({ messages: deploymentLogs.messages })
        .from(deploymentLogs)
        .where(rowConditions.logKey(tenantId, deploymentId, deviceId))
        .get()?.messages,
  }
}
