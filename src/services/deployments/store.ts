import { and, asc, count, desc, eq, gte, inArray, lte, max, or, type SQL, sql } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { Database } from '../../../db/client.ts'
import { createDeploymentEvents } from './events.ts'
import type { DeploymentStatus, DeviceDeploymentStatus, Stats } from './status.ts'
import {
  type DeploymentType,
  deploymentDevices,
  deploymentLogs,
  deployments,
  type LogMessage,
} from './tables.ts'

export type DeploymentRow = typeof deployments.$inferSelect

/** The property (column) holding each status's device count. */
const STAT_KEYS = {
  failure: 'statFailure',
  aborted: 'statAborted',
  pause_before_installing: 'statPauseBeforeInstalling',
  pause_before_committing: 'statPauseBeforeCommitting',
  pause_before_rebooting: 'statPauseBeforeRebooting',
  downloading: 'statDownloading',
  installing: 'statInstalling',
  rebooting: 'statRebooting',
  pending: 'statPending',
  success: 'statSuccess',
  noartifact: 'statNoartifact',
  'already-installed': 'statAlreadyInstalled',
  decommissioned: 'statDecommissioned',
} as const satisfies Record<DeviceDeploymentStatus, keyof DeploymentRow>

type StatKey = (typeof STAT_KEYS)[DeviceDeploymentStatus]
type StatFields = Pick<DeploymentRow, StatKey>

const STAT_ENTRIES = Object.entries(STAT_KEYS) as [DeviceDeploymentStatus, StatKey][]

export const statsOf = (row: StatFields): Stats =>
  Object.fromEntries(STAT_ENTRIES.map(([status, key]) => [status, row[key]])) as Stats

/** Every count as a column value, for `set()` and inserts. */
export const statValues = (stats: Stats): StatFields =>
  Object.fromEntries(STAT_ENTRIES.map(([status, key]) => [key, stats[status]])) as StatFields

const STAT_RETURNING = {
  maxDevices: deployments.maxDevices,
  finished: deployments.finished,
  status: deployments.status,
  ...Object.fromEntries(STAT_ENTRIES.map(([, key]) => [key, deployments[key]])),
} as {
  maxDevices: typeof deployments.maxDevices
  finished: typeof deployments.finished
  status: typeof deployments.status
} & {
  [K in StatKey]: (typeof deployments)[K]
}

/** A deployment's counts after a change, with what decides its status. */
export type StatsAfter = { stats: Stats; maxDevices: number; finished: Date | null; status: DeploymentStatus }

export type DeploymentQuery = {
  ids?: string[]
  names?: string[]
  /** Text in the name or the artifact name (case-insensitive). */
  search?: string
  status?: DeploymentStatus
  createdAfter?: Date
  createdBefore?: Date
  sort: 'asc' | 'desc'
  /** Deployments for this device: named after it, or listing it. */
  forDevice?: string
  type?: DeploymentType
}

/** `like` with its wildcards taken literally. */
const likeContains = (column: SQLiteColumn, text: string): SQL =>
  sql`${column} LIKE ${`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'`

function queryConditions(tenantId: string, query: DeploymentQuery): SQL | undefined {
  const where: (SQL | undefined)[] = [eq(deployments.tenantId, tenantId)]
  if (query.ids) where.push(inArray(deployments.id, query.ids))
  if (query.names) where.push(inArray(deployments.name, query.names))
  if (query.search) {
    where.push(
      or(likeContains(deployments.name, query.search), likeContains(deployments.artifactName, query.search)),
    )
  }
  if (query.status) where.push(eq(deployments.status, query.status))
  if (query.type) where.push(eq(deployments.type, query.type))
  if (query.createdAfter) where.push(gte(deployments.created, query.createdAfter))
  if (query.createdBefore) where.push(lte(deployments.created, query.createdBefore))
  if (query.forDevice) {
    where.push(
      or(
        eq(deployments.name, query.forDevice),
        sql`EXISTS (SELECT 1 FROM ${deploymentDevices} WHERE ${deploymentDevices.tenantId} = ${tenantId}
          AND ${deploymentDevices.deviceId} = ${query.forDevice} AND ${deploymentDevices.deploymentId} = ${deployments.id})`,
      ),
    )
  }
  return and(...where)
}

/** Rows per INSERT when writing a device list (4 bound values each, well under SQLite's limit). */
const DEVICE_LIST_CHUNK = 2000

/**
 * Deployments, their device lists, counts and device logs. Synchronous (bun:sqlite is): the
 * service composes calls of this store and DeviceDeploymentsStore inside `transaction`.
 */
export interface DeploymentsStore {
  /** Runs `fn` in one transaction (nested calls become savepoints); `fn` must not await. */
  transaction<T>(fn: () => T): T
  /** Creation time (Unix ms) of the tenant's oldest active deployment; null when none is active. */
  oldestActiveCreated(tenantId: string): number | null
  /** One deployment, if it exists. */
  findDeployment(tenantId: string, id: string): DeploymentRow | undefined
  /** The newest creation time of the tenant's deployments (new ones are made strictly later). */
  latestCreated(tenantId: string): Date | undefined
  /** Inserts the deployment and its device list; false when an identical one is still active. */
  insertDeployment(row: DeploymentRow, deviceIds: readonly string[]): boolean
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

export function createDeploymentsStore(db: Database): DeploymentsStore {
  const ph = sql.placeholder
  const events = createDeploymentEvents(db)
  const oldestActive = db
    .select({ created: sql<number | null>`min(${deployments.created})` })
    .from(deployments)
    .where(and(eq(deployments.tenantId, ph('tenantId')), sql`finished IS NULL`))
    .prepare()
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
  const byId = db
    .select()
    .from(deployments)
    .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
    .prepare()
  const addDeviceCount = db
    .update(deployments)
    .set({ deviceCount: sql`${deployments.deviceCount} + 1` })
    .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
    .prepare()
  const addTotalSize = db
    .update(deployments)
    .set({ totalSize: sql`${deployments.totalSize} + ${ph('size')}` })
    .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
    .prepare()
  const setStatus = db
    .update(deployments)
    .set({ status: sql`${ph('status')}`, finished: sql`${ph('finished')}` })
    .where(and(eq(deployments.tenantId, ph('tenantId')), eq(deployments.id, ph('id'))))
    .prepare()

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
    /** Runs `fn` in one transaction (nested calls become savepoints); `fn` must not await. */
    transaction: <T>(fn: () => T): T => db.transaction(() => fn()),

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

    /** The newest creation time of the tenant's deployments (new ones are made strictly later). */
    latestCreated: (tenantId: string): Date | undefined =>
      db
        .select({ created: max(deployments.created) })
        .from(deployments)
        .where(eq(deployments.tenantId, tenantId))
        .get()?.created ?? undefined,

    /** Inserts the deployment and its device list; false when an identical one is still active. */
    insertDeployment(row: DeploymentRow, deviceIds: readonly string[]): boolean {
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
      const created = row.created.getTime()
      for (let i = 0; i < deviceIds.length; i += DEVICE_LIST_CHUNK) {
        db.insert(deploymentDevices)
          .values(
            deviceIds
              .slice(i, i + DEVICE_LIST_CHUNK)
              .map((deviceId) => ({ tenantId: row.tenantId, deviceId, created, deploymentId: row.id })),
          )
          .onConflictDoNothing()
          .run()
      }
      return true
    },

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
        .orderBy(sql`rowid`)
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
      return (
        row && { stats: statsOf(row), maxDevices: row.maxDevices, finished: row.finished, status: row.status }
      )
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
            .where(
              and(
                eq(deployments.tenantId, tenantId),
                inArray(deployments.artifactName, [...artifactNames]),
                sql`finished IS NULL`,
              ),
            )
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
        .where(
          and(
            eq(deploymentLogs.tenantId, tenantId),
            eq(deploymentLogs.deploymentId, deploymentId),
            eq(deploymentLogs.deviceId, deviceId),
          ),
        )
        .get()?.messages,
  }
}
