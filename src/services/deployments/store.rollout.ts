import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { createDeploymentEvents } from './events.ts'
import type { PhaseCounters } from './policy.ts'
import { statusCode } from './status.ts'
import type { EitherEngine } from './steps.ts'
import { deploymentPhases, deployments, rolloutLog } from './tables.ts'

export type PhaseRow = typeof deploymentPhases.$inferSelect
export type RolloutLogEntry = Omit<typeof rolloutLog.$inferSelect, 'seq'>
/** A device deployment in flight past its deployment's timeout. */
export type OverdueDevice = { seq: number; tenantId: string; deploymentId: string; phase: number }

/** A log entry's columns: all but its key. */
const { seq: _seq, ...logColumns } = getTableColumns(rolloutLog)

export const IN_FLIGHT = [statusCode('downloading'), statusCode('installing'), statusCode('rebooting')].join(
  ',',
)

/**
 * Rows of phases, their gate counters, pauses and the rollout log of deployments. Synchronous
 * like the other rows: a gate is decided inside the transaction of the status write that moves
 * its counters.
 */
export interface RolloutRows {
  /** Adds the deployment's phases (in order; their index is their position). */
  insertPhases(rows: PhaseRow[]): void
  /** The deployment's phases, in order. */
  listPhases(tenantId: string, deploymentId: string): PhaseRow[]
  /** One phase of the deployment, by its index. */
  findPhase(tenantId: string, deploymentId: string, idx: number): PhaseRow | undefined
  /** Devices that joined a dynamic deployment were placed in the phase. */
  growPhase(tenantId: string, deploymentId: string, idx: number, devices: number): void
  /** One more device of the phase picked the deployment up. */
  addPhaseDevice(tenantId: string, deploymentId: string, idx: number): void
  /** Counts a device of the phase that ended its attempt in success or failure; answers the counters after. */
  countResult(tenantId: string, deploymentId: string, idx: number, failed: boolean): PhaseCounters | undefined
  /** Unopened phases of active, unpaused deployments whose start time has come, earliest first. */
  duePhases(now: Date, limit: number): PhaseRow[]
  /** Opens the phase: its devices get the deployment from now on. */
  openPhase(tenantId: string, deploymentId: string, idx: number, at: Date): void
  /** Marks that the success gate held the phase closed. */
  holdPhase(tenantId: string, deploymentId: string, idx: number): void
  /** Pauses the deployment (`tripped`: by a failure gate, so resuming needs an override). */
  pause(tenantId: string, deploymentId: string, at: Date, reason: string, tripped: boolean): void
  /** Ends a pause. */
  resume(tenantId: string, deploymentId: string): void
  /** Records a rollout step in the deployment's log and on the event stream. */
  log(entry: RolloutLogEntry): void
  /** The deployment's rollout log, oldest first. */
  listLog(tenantId: string, deploymentId: string): RolloutLogEntry[]
  /** Device deployments in flight longer than their active deployment's timeout, not yet marked. */
  overdueInFlight(now: Date, limit: number): OverdueDevice[]
  /** Marks a device deployment timed out; false when it was already, or is no longer in flight. */
  markTimedOut(seq: number): boolean
}

/** The rollout rows as the shared rules use them, on either engine. */
export type RuleRolloutRows = EitherEngine<RolloutRows>

export function createRolloutRows(db: Database): RolloutRows {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const ph = sql.placeholder
  const events = createDeploymentEvents(db)
  const p = deploymentPhases
  const phaseKey = and(
    eq(p.tenantId, ph('tenantId')),
    eq(p.deploymentId, ph('deploymentId')),
    eq(p.idx, ph('idx')),
  )
  const countResult = preparedOnFirstUse(() =>
    db
      .update(p)
      .set({
        finished: sql`${p.finished} + 1`,
        failed: sql`${p.failed} + ${ph('failed')}`,
        succeeded: sql`${p.succeeded} + 1 - ${ph('failed')}`,
      })
      .where(phaseKey)
      .returning({ size: p.size, finished: p.finished, failed: p.failed, succeeded: p.succeeded })
      .prepare(),
  )
  const byKey = preparedOnFirstUse(() => db.select().from(p).where(phaseKey).prepare())
  const addDevice = preparedOnFirstUse(() =>
    db
      .update(p)
      .set({ deviceCount: sql`${p.deviceCount} + 1` })
      .where(phaseKey)
      .prepare(),
  )
  const due = db.$client.prepare<Record<string, unknown>, [number, number]>(
    `SELECT p.* FROM deployments_phases p JOIN deployments_deployments d
       ON d.tenant_id = p.tenant_id AND d.id = p.deployment_id
     WHERE p.opened IS NULL AND p.held = 0 AND p.start_ts <= ?1 AND d.finished IS NULL AND d.paused_at IS NULL
     ORDER BY p.start_ts LIMIT ?2`,
  )
  const overdue = db.$client.prepare<OverdueDevice, [number, number]>(
    `SELECT dd.seq, dd.tenant_id AS tenantId, dd.deployment_id AS deploymentId, dd.phase
     FROM deployments_deployments d
     CROSS JOIN deployments_device_deployments dd
       ON dd.tenant_id = d.tenant_id AND dd.deployment_id = d.id
     WHERE d.finished IS NULL AND json_extract(d.policy, '$.inflight_timeout') IS NOT NULL
       AND dd.status IN (${IN_FLIGHT}) AND dd.timed_out = 0 AND dd.deleted IS NULL
       AND dd.started + json_extract(d.policy, '$.inflight_timeout') * 1000 <= ?1
     LIMIT ?2`,
  )
  const markTimedOut = db.$client.prepare<never, [number]>(
    `UPDATE deployments_device_deployments SET timed_out = 1
     WHERE seq = ? AND timed_out = 0 AND status IN (${IN_FLIGHT})`,
  )
  const deploymentKey = (tenantId: string, id: string) =>
    and(eq(deployments.tenantId, tenantId), eq(deployments.id, id))

  return {
    insertPhases(rows: PhaseRow[]): void {
      if (rows.length > 0) db.insert(p).values(rows).run()
    },

    listPhases: (tenantId: string, deploymentId: string): PhaseRow[] =>
      db
        .select()
        .from(p)
        .where(and(eq(p.tenantId, tenantId), eq(p.deploymentId, deploymentId)))
        .orderBy(asc(p.idx))
        .all(),

    findPhase: (tenantId: string, deploymentId: string, idx: number): PhaseRow | undefined =>
      byKey.get({ tenantId, deploymentId, idx }),

    growPhase(tenantId: string, deploymentId: string, idx: number, devices: number): void {
      db.update(p)
        .set({ size: sql`${p.size} + ${devices}` })
        .where(and(eq(p.tenantId, tenantId), eq(p.deploymentId, deploymentId), eq(p.idx, idx)))
        .run()
    },

    addPhaseDevice(tenantId: string, deploymentId: string, idx: number): void {
      addDevice.run({ tenantId, deploymentId, idx })
    },

    countResult: (tenantId: string, deploymentId: string, idx: number, failed: boolean) =>
      countResult.get({ tenantId, deploymentId, idx, failed: failed ? 1 : 0 }),

    duePhases(now: Date, limit: number): PhaseRow[] {
      // Raw rows: map the columns drizzle would have mapped.
      return due.all(now.getTime(), limit).map((row) => ({
        tenantId: row.tenant_id as string,
        deploymentId: row.deployment_id as string,
        idx: row.idx as number,
        id: row.id as string,
        batchSize: row.batch_size as number | null,
        batchSizeDevices: row.batch_size_devices as number | null,
        startTs: new Date(row.start_ts as number),
        size: row.size as number,
        deviceCount: row.device_count as number,
        opened: null,
        finished: row.finished as number,
        failed: row.failed as number,
        succeeded: row.succeeded as number,
        held: row.held === 1,
      }))
    },

    openPhase(tenantId: string, deploymentId: string, idx: number, at: Date): void {
      db.update(p)
        .set({ opened: at })
        .where(and(eq(p.tenantId, tenantId), eq(p.deploymentId, deploymentId), eq(p.idx, idx)))
        .run()
      db.update(deployments)
        .set({ openPhases: sql`max(${deployments.openPhases}, ${idx + 1})` })
        .where(deploymentKey(tenantId, deploymentId))
        .run()
    },

    holdPhase(tenantId: string, deploymentId: string, idx: number): void {
      db.update(p)
        .set({ held: true })
        .where(and(eq(p.tenantId, tenantId), eq(p.deploymentId, deploymentId), eq(p.idx, idx)))
        .run()
    },

    pause(tenantId: string, deploymentId: string, at: Date, reason: string, tripped: boolean): void {
      db.update(deployments)
        .set({ pausedAt: at, pauseReason: reason, gateTripped: tripped })
        .where(deploymentKey(tenantId, deploymentId))
        .run()
    },

    resume(tenantId: string, deploymentId: string): void {
      db.update(deployments)
        .set({ pausedAt: null, gateTripped: false })
        .where(deploymentKey(tenantId, deploymentId))
        .run()
    },

    log(entry: RolloutLogEntry): void {
      db.insert(rolloutLog).values(entry).run()
      events.rolloutLogged(entry)
    },

    listLog: (tenantId: string, deploymentId: string): RolloutLogEntry[] =>
      db
        .select(logColumns)
        .from(rolloutLog)
        .where(and(eq(rolloutLog.tenantId, tenantId), eq(rolloutLog.deploymentId, deploymentId)))
        .orderBy(asc(rolloutLog.seq))
        .all(),

    overdueInFlight: (now: Date, limit: number): OverdueDevice[] => overdue.all(now.getTime(), limit),

    markTimedOut: (seq: number): boolean => markTimedOut.run(seq).changes > 0,
  }
}
