import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm'
import { type DeploymentEvent, deploymentEvents } from './events.ts'
import type { Promised } from './steps.ts'
import { jsonOf, type PgQueries } from './store.deployments.pg.ts'
import { IN_FLIGHT, type OverdueDevice, type RolloutRows } from './store.rollout.ts'
import { deploymentPhases, deployments, deviceDeployments, rolloutLog } from './tables.pg.ts'

const p = deploymentPhases
/** A log entry's columns: all but its key. */
const { seq: _seq, ...logColumns } = getTableColumns(rolloutLog)
const dd = deviceDeployments
const timeout = sql`(${jsonOf(deployments.policy)} ->> 'inflight_timeout')`

/**
 * Phase, gate and rollout-log rows on PostgreSQL (see store.rollout.ts for what each promises),
 * run on `q`. Events go to `events`, which the store appends to the outbox as the change's last step.
 */
export function createPgRolloutRows(q: PgQueries, events: DeploymentEvent[]): Promised<RolloutRows> {
  const phaseKey = (tenantId: string, deploymentId: string, idx: number) =>
    and(eq(p.tenantId, tenantId), eq(p.deploymentId, deploymentId), eq(p.idx, idx))
  const deploymentKey = (tenantId: string, id: string) =>
    and(eq(deployments.tenantId, tenantId), eq(deployments.id, id))

  return {
    async insertPhases(rows) {
      if (rows.length > 0) await q.insert(p).values(rows)
    },

    listPhases: async (tenantId, deploymentId) =>
      q
        .select()
        .from(p)
        .where(and(eq(p.tenantId, tenantId), eq(p.deploymentId, deploymentId)))
        .orderBy(asc(p.idx)),

    findPhase: async (tenantId, deploymentId, idx) =>
      (
        await q
          .select()
          .from(p)
          .where(phaseKey(tenantId, deploymentId, idx))
      )[0],

    async growPhase(tenantId, deploymentId, idx, devices) {
      await q
        .update(p)
        .set({ size: sql`${p.size} + ${devices}` })
        .where(phaseKey(tenantId, deploymentId, idx))
    },

    async addPhaseDevice(tenantId, deploymentId, idx) {
      await q
        .update(p)
        .set({ deviceCount: sql`${p.deviceCount} + 1` })
        .where(phaseKey(tenantId, deploymentId, idx))
    },

    countResult: async (tenantId, deploymentId, idx, failed) =>
      (
        await q
          .update(p)
          .set({
            finished: sql`${p.finished} + 1`,
            failed: sql`${p.failed} + ${failed ? 1 : 0}`,
            succeeded: sql`${p.succeeded} + ${failed ? 0 : 1}`,
          })
          .where(phaseKey(tenantId, deploymentId, idx))
          .returning({ size: p.size, finished: p.finished, failed: p.failed, succeeded: p.succeeded })
      )[0],

    duePhases: async (now, limit) =>
      (
        await q
          .select({ phase: p })
          .from(p)
          .innerJoin(
            deployments,
            and(eq(deployments.tenantId, p.tenantId), eq(deployments.id, p.deploymentId)),
          )
          .where(
            and(
              sql`${p.opened} IS NULL AND NOT ${p.held} AND ${p.startTs} <= ${now}`,
              sql`${deployments.finished} IS NULL AND ${deployments.pausedAt} IS NULL`,
            ),
          )
          .orderBy(asc(p.startTs))
          .limit(limit)
      ).map((row) => row.phase),

    async openPhase(tenantId, deploymentId, idx, at) {
      await q
        .update(p)
        .set({ opened: at })
        .where(phaseKey(tenantId, deploymentId, idx))
      await q
        .update(deployments)
        .set({ openPhases: sql`greatest(${deployments.openPhases}, ${idx + 1})` })
        .where(deploymentKey(tenantId, deploymentId))
    },

    async holdPhase(tenantId, deploymentId, idx) {
      await q
        .update(p)
        .set({ held: true })
        .where(phaseKey(tenantId, deploymentId, idx))
    },

    async pause(tenantId, deploymentId, at, reason, tripped) {
      await q
        .update(deployments)
        .set({ pausedAt: at, pauseReason: reason, gateTripped: tripped })
        .where(deploymentKey(tenantId, deploymentId))
    },

    async resume(tenantId, deploymentId) {
      await q
        .update(deployments)
        .set({ pausedAt: null, gateTripped: false })
        .where(deploymentKey(tenantId, deploymentId))
    },

    async log(entry) {
      await q.insert(rolloutLog).values(entry)
      events.push(deploymentEvents.rolloutLogged(entry))
    },

    listLog: async (tenantId, deploymentId) =>
      q
        .select(logColumns)
        .from(rolloutLog)
        .where(and(eq(rolloutLog.tenantId, tenantId), eq(rolloutLog.deploymentId, deploymentId)))
        .orderBy(asc(rolloutLog.seq)),

    overdueInFlight: async (now, limit): Promise<OverdueDevice[]> =>
      q
        .select({ seq: dd.seq, tenantId: dd.tenantId, deploymentId: dd.deploymentId, phase: dd.phase })
        .from(deployments)
        .innerJoin(dd, and(eq(dd.tenantId, deployments.tenantId), eq(dd.deploymentId, deployments.id)))
        .where(
          sql`${deployments.finished} IS NULL AND ${timeout} IS NOT NULL
            AND ${dd.status} IN (${sql.raw(IN_FLIGHT)}) AND NOT ${dd.timedOut} AND ${dd.deleted} IS NULL
            AND ${dd.started} + ${timeout}::numeric * interval '1 second' <= ${now}`,
        )
        .limit(limit),

    markTimedOut: async (seq) =>
      (
        await q
          .update(dd)
          .set({ timedOut: true })
          .where(and(eq(dd.seq, seq), sql`NOT ${dd.timedOut} AND ${dd.status} IN (${sql.raw(IN_FLIGHT)})`))
          .returning({ seq: dd.seq })
      ).length > 0,
  }
}
