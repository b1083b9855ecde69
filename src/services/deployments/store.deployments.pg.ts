import { and, asc, type Column, count, desc, eq, inArray, max, type SQL, sql } from 'drizzle-orm'
import type { BunSQLQueryResultHKT } from 'drizzle-orm/bun-sql'
import type { PgDatabase as PgCoreDatabase } from 'drizzle-orm/pg-core'
import { type DeploymentEvent, deploymentEvents } from './events.ts'
import type { DeviceDeploymentStatus, Stats } from './status.ts'
import type { Promised } from './steps.ts'
import { deviceListChunks, type SharedDeploymentRows } from './store.deployments.ts'
import { type DeploymentQuery, queryConditionsOn, rowConditionsOn } from './store.query.ts'
import { STAT_KEYS, type StatKey, statsAfter, statsOf, statValues } from './store.stats.ts'
import { deploymentDevices, deploymentLogs, deployments } from './tables.pg.ts'

/** What PostgreSQL rows run their statements on: the pool, or the transaction of a change. */
export type PgQueries = PgCoreDatabase<BunSQLQueryResultHKT, Record<string, never>>

/** Transaction-scoped advisory lock keys (two int4 keys, a space apart from the one-bigint locks). */
export const LOCK_CLASS = {
  /** A tenant's new deployments: their creation times are made distinct. */
  tenantDeployments: 0x64706c74,
  /** A device's pick-ups and endings. */
  device: 0x64706c64,
} as const

/** Holds `key` in `kind` until the transaction ends (keys hashed to int4; a collision only waits). */
export const advisoryLock = (q: PgQueries, kind: number, key: string) =>
  q.execute(sql`SELECT pg_advisory_xact_lock(${kind}::int4, hashtext(${key}))`)

/** A json column's value as jsonb, for SQL that looks inside it (see `json` in db/pg-columns.ts). */
export const jsonOf = (column: Column): SQL => sql`${column}::jsonb`

const pgQueryConditions = queryConditionsOn({ deployments, deploymentDevices }, 'ILIKE')
const pgRowConditions = rowConditionsOn({ deployments, deploymentLogs })

/**
 * Deployment rows on PostgreSQL (see store.deployments.ts for what each promises), run on `q`.
 * Events go to `events`, which the store appends to the outbox as the change's last step.
 */
export function createPgDeploymentRows(
  q: PgQueries,
  events: DeploymentEvent[],
): Promised<SharedDeploymentRows> {
  const key = (tenantId: string, id: string) =>
    and(eq(deployments.tenantId, tenantId), eq(deployments.id, id))
  const first = <T>(rows: T[]): T | undefined => rows[0]

  return {
    findDeployment: async (tenantId, id) =>
      first(await q.select().from(deployments).where(key(tenantId, id))),

    lockDeployment: async (tenantId, id) =>
      first(await q.select().from(deployments).where(key(tenantId, id)).for('update')),

    async latestCreated(tenantId) {
      // Two instances making deployments of one tenant at once would read the same newest time.
      await advisoryLock(q, LOCK_CLASS.tenantDeployments, tenantId)
      const [row] = await q
        .select({ created: max(deployments.created) })
        .from(deployments)
        .where(eq(deployments.tenantId, tenantId))
      return row?.created ?? undefined
    },

    async insertDeployment(row, deviceIds, phases) {
      // The partial unique index on active (tenant, checksum) refuses a twin, also one made meanwhile.
      const made = await q
        .insert(deployments)
        .values(row)
        .onConflictDoNothing()
        .returning({ id: deployments.id })
      if (made.length === 0) return false
      events.push(deploymentEvents.created(row))
      for (const chunk of deviceListChunks(row, deviceIds, (i) => phases?.[i] ?? 0)) {
        await q.insert(deploymentDevices).values(chunk).onConflictDoNothing()
      }
      return true
    },

    async addDevices(row, deviceIds, phase) {
      if (deviceIds.length === 0) return []
      const [last] = await q
        .select({ next: sql<number>`coalesce(max(${deploymentDevices.position}) + 1, 0)`.mapWith(Number) })
        .from(deploymentDevices)
        .where(and(eq(deploymentDevices.tenantId, row.tenantId), eq(deploymentDevices.deploymentId, row.id)))
      const added: string[] = []
      for (const chunk of deviceListChunks(row, deviceIds, () => phase, last?.next ?? 0)) {
        const inserted = await q
          .insert(deploymentDevices)
          .values(chunk)
          .onConflictDoNothing()
          .returning({ deviceId: deploymentDevices.deviceId })
        for (const entry of inserted) added.push(entry.deviceId)
      }
      if (added.length > 0) {
        await q
          .update(deployments)
          .set({ statPending: sql`${deployments.statPending} + ${added.length}` })
          .where(key(row.tenantId, row.id))
      }
      return added
    },

    activeDynamic: async (tenantId) =>
      q
        .select()
        .from(deployments)
        .where(and(eq(deployments.tenantId, tenantId), sql`finished IS NULL`, eq(deployments.dynamic, true)))
        .orderBy(asc(deployments.created)),

    async listDeployments(tenantId: string, query: DeploymentQuery, offset: number, limit: number) {
      const order = query.sort === 'asc' ? asc : desc
      return await q
        .select()
        .from(deployments)
        .where(pgQueryConditions(tenantId, query))
        .orderBy(order(deployments.created), order(deployments.id))
        .limit(limit)
        .offset(offset)
    },

    countDeployments: async (tenantId, query) =>
      (await q.select({ n: count() }).from(deployments).where(pgQueryConditions(tenantId, query)))[0]?.n ?? 0,

    findDeploymentsByIds: async (tenantId, ids) =>
      ids.length === 0
        ? []
        : q
            .select()
            .from(deployments)
            .where(and(eq(deployments.tenantId, tenantId), inArray(deployments.id, [...ids]))),

    listDeviceIds: async (tenantId, deploymentId) =>
      (
        await q
          .select({ deviceId: deploymentDevices.deviceId })
          .from(deploymentDevices)
          .where(
            and(eq(deploymentDevices.tenantId, tenantId), eq(deploymentDevices.deploymentId, deploymentId)),
          )
          .orderBy(asc(deploymentDevices.position))
      ).map((row) => row.deviceId),

    async moveStat(
      tenantId: string,
      id: string,
      from: DeviceDeploymentStatus | null,
      to: DeviceDeploymentStatus,
    ) {
      const toKey = STAT_KEYS[to]
      const set: Partial<Record<StatKey, SQL>> = { [toKey]: sql`${deployments[toKey]} + 1` }
      if (from !== null) set[STAT_KEYS[from]] = sql`${deployments[STAT_KEYS[from]]} - 1`
      const [row] = await q.update(deployments).set(set).where(key(tenantId, id)).returning()
      return row && statsAfter(row)
    },

    async setStats(tenantId: string, id: string, stats: Stats) {
      await q.update(deployments).set(statValues(stats)).where(key(tenantId, id))
    },

    async setStatus(tenantId, id, status, finished) {
      const [after] = await q
        .update(deployments)
        .set({ status, finished })
        .where(key(tenantId, id))
        .returning()
      if (after) events.push(deploymentEvents.statusChanged(after, status, statsOf(after)))
    },

    async addDeviceCount(tenantId, id) {
      await q
        .update(deployments)
        .set({ deviceCount: sql`${deployments.deviceCount} + 1` })
        .where(key(tenantId, id))
    },

    async addTotalSize(tenantId, id, size) {
      await q
        .update(deployments)
        .set({ totalSize: sql`${deployments.totalSize} + ${size}` })
        .where(key(tenantId, id))
    },

    async addArtifact(tenantId, id, artifactId) {
      await q
        .update(deployments)
        .set({
          artifacts: sql`(${jsonOf(deployments.artifacts)} || to_jsonb(${artifactId}::text))::json`,
        })
        .where(and(key(tenantId, id), sql`NOT (${jsonOf(deployments.artifacts)} ? ${artifactId})`))
    },

    usesArtifactName: async (tenantId, name) =>
      (
        await q
          .select({ id: deployments.id })
          .from(deployments)
          .where(and(eq(deployments.tenantId, tenantId), eq(deployments.artifactName, name)))
          .limit(1)
      ).length > 0,

    activeDeploymentIds: async (tenantId, artifactNames) =>
      artifactNames.length === 0
        ? []
        : (
            await q
              .select({ id: deployments.id })
              .from(deployments)
              .where(pgRowConditions.activeOfNames(tenantId, artifactNames))
          ).map((row) => row.id),

    async saveLog(tenantId, deploymentId, deviceId, messages) {
      await q
        .insert(deploymentLogs)
        .values({ tenantId, deploymentId, deviceId, messages })
        .onConflictDoUpdate({
          target: [deploymentLogs.tenantId, deploymentLogs.deploymentId, deploymentLogs.deviceId],
          set: { messages },
        })
    },

    findLog: async (tenantId, deploymentId, deviceId) =>
      (
        await q
          .select({ messages: deploymentLogs.messages })
          .from(deploymentLogs)
          .where(pgRowConditions.logKey(tenantId, deploymentId, deviceId))
      )[0]?.messages,
  }
}
