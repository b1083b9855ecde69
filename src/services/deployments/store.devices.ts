import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { Database, Window } from '../../../db/client.ts'
import { preparedOnFirstUse } from '../../../db/lazy.ts'
import { createDeploymentEvents } from './events.ts'
import { CODE } from './status.ts'
import type { EitherEngine } from './steps.ts'
import { deviceDeployments } from './tables.ts'

export type DeviceDeploymentRow = typeof deviceDeployments.$inferSelect
export type NewDeviceDeployment = Omit<DeviceDeploymentRow, 'seq'>
/** A deployment the device has not started, and its phase there. */
export type Unstarted = { id: string; phase: number }

const dd = deviceDeployments
const notDeleted = sql`${dd.deleted} IS NULL`
const ACTIVE_CODES = sql`${dd.status} BETWEEN ${sql.raw(String(CODE.pauseFirst))} AND ${sql.raw(String(CODE.pending))}`

/**
 * Rows of device deployments: the device side of a deployment, and the poll's lookups.
 * Synchronous (bun:sqlite is); the deployments store composes them inside its transactions.
 */
export interface DeviceDeploymentRows {
  /** The device's unfinished device deployment (its seq), and whether a device list from `since` on names it. */
  pollLookup(tenantId: string, deviceId: string, since: number): { activeSeq: number | null; listed: boolean }
  /**
   * The oldest deployment the device has not started (see UNSTARTED_DEPLOYMENTS) that it may start
   * now (its phase is open, the deployment is not paused), with the device's phase in it.
   */
  firstUnstartedDeployment(tenantId: string, deviceId: string): Unstarted | undefined
  /** Every deployment the device has not started, oldest first, opened or not. */
  unstartedDeployments(tenantId: string, deviceId: string): Unstarted[]
  /**
   * Holds the device's deployments for the transaction until it ends: another transaction that
   * holds the same device waits (on PostgreSQL; SQLite's write transactions exclude each other already).
   */
  lockDevice(tenantId: string, deviceId: string): void
  /** One device deployment by its key. */
  findBySeq(seq: number): DeviceDeploymentRow | undefined
  /** The device's device deployment in this deployment: the one not deleted (a device has at most one). */
  findForDevice(tenantId: string, deploymentId: string, deviceId: string): DeviceDeploymentRow | undefined
  /** Whether the device ever had a device deployment in this deployment, deleted ones included. */
  hadForDevice(tenantId: string, deploymentId: string, deviceId: string): boolean
  /** Adds a device deployment; answers its key. */
  insert(row: NewDeviceDeployment): number
  /** Sets the status; leaving pending sets `started`, an end state sets `finished`; an empty substate keeps the old one. */
  updateStatus(seq: number, status: number, active: boolean, now: Date, substate?: string): void
  /** Records what the device said about itself when it picked the deployment up. */
  saveRequest(seq: number, request: string): void
  /** Records the artifact chosen for the device. */
  assignArtifact(seq: number, artifactId: string): void
  /** A failed attempt is followed by another: the device deployment is pending again. */
  retry(seq: number): void
  /** Marks that the device uploaded a log. */
  setLogAvailable(seq: number): void
  /** Every unfinished device deployment of the device, oldest first. */
  listActiveForDevice(tenantId: string, deviceId: string): DeviceDeploymentRow[]
  /** Sets every unfinished device deployment of the deployment to aborted (counts are the caller's). */
  abortActiveOfDeployment(tenantId: string, deploymentId: string): void
  /** Device deployments (not deleted) of a deployment per status code. */
  countByStatus(tenantId: string, deploymentId: string): { status: number; n: number }[]
  /** A deployment's device deployments (of these status codes) by status, then device id (Mender's order). */
  listForDeployment(
    tenantId: string,
    deploymentId: string,
    codes: number[] | undefined,
    window?: Window,
  ): DeviceDeploymentRow[]
  /** How many device deployments (of these status codes) the deployment has. */
  countForDeployment(tenantId: string, deploymentId: string, codes: number[] | undefined): number
  /** A device's deployment history, deleted entries included: newest first, then by status code, descending. */
  listForDevice(
    tenantId: string,
    deviceId: string,
    codes: number[] | undefined,
    offset: number,
    limit: number,
  ): DeviceDeploymentRow[]
  /** How many entries (of these status codes) the device's history has. */
  countForDevice(tenantId: string, deviceId: string, codes: number[] | undefined): number
  /** Marks the device's finished device deployments deleted: they stay listed but stop counting for selection. */
  deleteHistory(tenantId: string, deviceId: string, at: Date): void
}

/** What both engines' device deployment rows offer (SQLite's poll lookups are its own). */
export type SharedDeviceDeploymentRows = Omit<DeviceDeploymentRows, 'pollLookup' | 'firstUnstartedDeployment'>
/** The device deployment rows as the shared rules use them, on either engine. */
export type RuleDeviceDeploymentRows = EitherEngine<SharedDeviceDeploymentRows>

/**
 * The deployments a device has not started, oldest first: the one definition the poll, abort and
 * decommission share. Active deployments whose device list names the device, created after its
 * newest finished (not deleted) device deployment, with room left, in which it has no device
 * deployment (not deleted). "Room left" (`device_count < max_devices`): a full deployment was
 * picked up by every device it lists, this one included, even if its history was deleted since;
 * it is neither handed out again nor ended again for the device. The device list drives the join
 * (CROSS JOIN keeps SQLite from starting at the deployments), so its index already gives the order.
 */
const UNSTARTED_DEPLOYMENTS = `SELECT dl.deployment_id AS id, dl.phase AS phase FROM deployments_deployment_devices dl
   CROSS JOIN deployments_deployments d ON d.id = dl.deployment_id
   WHERE dl.tenant_id = ?1 AND dl.device_id = ?2
     AND dl.created > (SELECT coalesce(max(created), -1) FROM deployments_device_deployments
       WHERE tenant_id = ?1 AND device_id = ?2 AND active = 0 AND deleted IS NULL)
     AND d.finished IS NULL AND (d.device_count < d.max_devices OR (d.dynamic = 1 AND d.max_devices = 0))
     AND NOT EXISTS (SELECT 1 FROM deployments_device_deployments x
       WHERE x.tenant_id = ?1 AND x.device_id = ?2 AND x.deployment_id = dl.deployment_id
         AND x.deleted IS NULL)`
const ORDER = 'ORDER BY dl.created, dl.deployment_id'
/** What the poll adds: the device's phase has opened and the deployment is not paused. */
const STARTABLE = 'AND dl.phase < d.open_phases AND d.paused_at IS NULL'

/** Device deployment rows on SQLite: prepared statements, the poll's in one statement. */
export function createDeviceDeploymentRows(db: Database): DeviceDeploymentRows {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const ph = sql.placeholder
  const events = createDeploymentEvents(db)
  /**
   * The poll's question in one statement (each statement pays for a read transaction of its own):
   * the device's unfinished device deployment (it has at most one: a new one is only made when it
   * has none), and whether any device list names it from `since` (the tenant's oldest active
   * deployment) on. Plain SQL on bun:sqlite: the literal `active = 1` is what lets SQLite use the
   * partial index, and two single-index probes keep it at about a microsecond, where a join or an
   * ORDER BY costs several.
   */
  const pollLookup = db.$client.prepare<
    { active: number | null; listed: number | null },
    [string, string, number]
  >(
    `SELECT
       (SELECT seq FROM deployments_device_deployments
         WHERE tenant_id = ?1 AND device_id = ?2 AND active = 1) AS active,
       (SELECT 1 FROM deployments_deployment_devices
         WHERE tenant_id = ?1 AND device_id = ?2 AND created >= ?3) AS listed`,
  )
  const firstUnstarted = db.$client.prepare<Unstarted, [string, string]>(
    `${UNSTARTED_DEPLOYMENTS} ${STARTABLE} ${ORDER} LIMIT 1`,
  )
  const allUnstarted = db.$client.prepare<Unstarted, [string, string]>(`${UNSTARTED_DEPLOYMENTS} ${ORDER}`)
  const bySeq = preparedOnFirstUse(() =>
    db
      .select()
      .from(dd)
      .where(eq(dd.seq, ph('seq')))
      .prepare(),
  )
  const deviceInDeployment = and(
    eq(dd.tenantId, ph('tenantId')),
    eq(dd.deviceId, ph('deviceId')),
    eq(dd.deploymentId, ph('deploymentId')),
  )
  // The status report.
  const forDevice = preparedOnFirstUse(() =>
    db.select().from(dd).where(and(deviceInDeployment, notDeleted)).prepare(),
  )
  const everForDevice = preparedOnFirstUse(() =>
    db.select({ seq: dd.seq }).from(dd).where(deviceInDeployment).limit(1).prepare(),
  )
  const insert = preparedOnFirstUse(() =>
    db
      .insert(dd)
      .values({
        id: ph('id'),
        tenantId: ph('tenantId'),
        deploymentId: ph('deploymentId'),
        deviceId: ph('deviceId'),
        status: ph('status'),
        active: ph('active'),
        created: ph('created'),
        // Nullable times go in as Unix milliseconds: drizzle's Date mapping cannot bind a null placeholder.
        started: sql`${ph('started')}`,
        finished: sql`${ph('finished')}`,
        artifactId: sql`${ph('artifactId')}`,
        request: sql`${ph('request')}`,
        phase: ph('phase'),
      })
      .returning({ seq: dd.seq })
      .prepare(),
  )
  const updateStatus = preparedOnFirstUse(() =>
    db
      .update(dd)
      .set({
        status: sql`${ph('status')}`,
        active: sql`${ph('active')}`,
        // Mender's times: started when the device first leaves pending, finished on every end state.
        started: sql`CASE WHEN ${dd.started} IS NULL AND ${ph('status')} <> ${CODE.pending} THEN ${ph('now')} ELSE ${dd.started} END`,
        finished: sql`CASE WHEN ${ph('active')} = 0 THEN ${ph('now')} ELSE ${dd.finished} END`,
        substate: sql`coalesce(${ph('substate')}, ${dd.substate})`,
      })
      .where(eq(dd.seq, ph('seq')))
      .prepare(),
  )
  const saveRequest = preparedOnFirstUse(() =>
    db
      .update(dd)
      .set({ request: sql`${ph('request')}` })
      .where(eq(dd.seq, ph('seq')))
      .prepare(),
  )
  const assignArtifact = preparedOnFirstUse(() =>
    db
      .update(dd)
      .set({ artifactId: sql`${ph('artifactId')}` })
      .where(eq(dd.seq, ph('seq')))
      .prepare(),
  )

  const deploymentWhere = (tenantId: string, deploymentId: string, codes?: number[]): SQL | undefined =>
    and(
      eq(dd.tenantId, tenantId),
      eq(dd.deploymentId, deploymentId),
      codes ? inArray(dd.status, codes) : undefined,
      notDeleted,
    )
  const deviceWhere = (tenantId: string, deviceId: string, codes?: number[]): SQL | undefined =>
    and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), codes ? inArray(dd.status, codes) : undefined)

  return {
    /** The device's unfinished device deployment (its seq), and whether a device list from `since` on names it. */
    pollLookup(
      tenantId: string,
      deviceId: string,
      since: number,
    ): { activeSeq: number | null; listed: boolean } {
      const row = pollLookup.get(tenantId, deviceId, since)
      return { activeSeq: row?.active ?? null, listed: row?.listed === 1 }
    },

    firstUnstartedDeployment: (tenantId: string, deviceId: string): Unstarted | undefined =>
      firstUnstarted.get(tenantId, deviceId) ?? undefined,

    unstartedDeployments: (tenantId: string, deviceId: string): Unstarted[] =>
      allUnstarted.all(tenantId, deviceId),

    lockDevice(): void {},

    findBySeq: (seq: number): DeviceDeploymentRow | undefined => bySeq.get({ seq }),

    /** The device's device deployment in this deployment: the one not deleted (a device has at most one). */
    findForDevice: (
      tenantId: string,
      deploymentId: string,
      deviceId: string,
    ): DeviceDeploymentRow | undefined => forDevice.get({ tenantId, deviceId, deploymentId }),

    /** Whether the device ever had a device deployment in this deployment, deleted ones included. */
    hadForDevice: (tenantId: string, deploymentId: string, deviceId: string): boolean =>
      everForDevice.get({ tenantId, deviceId, deploymentId }) !== undefined,

    insert(row: NewDeviceDeployment): number {
      const { id, tenantId, deploymentId, deviceId, status, active, created, started, finished } = row
      const inserted = insert.get({
        ...{ id, tenantId, deploymentId, deviceId, status, active, created },
        started: started?.getTime() ?? null,
        finished: finished?.getTime() ?? null,
        artifactId: row.artifactId,
        request: row.request,
        phase: row.phase,
      })
      if (!inserted) throw new Error('deployments: device deployment insert returned nothing')
      events.deviceStatusChanged(row, status)
      return inserted.seq
    },

    /** Sets the status; leaving pending sets `started`, an end state sets `finished`; an empty substate keeps the old one. */
    updateStatus(seq: number, status: number, active: boolean, now: Date, substate?: string): void {
      const before = bySeq.get({ seq })
      if (before && (before.status !== status || (substate && substate !== before.substate))) {
        events.deviceStatusChanged(before, status, substate || before.substate)
      }
      updateStatus.run({
        seq,
        status,
        active: active ? 1 : 0,
        now: now.getTime(),
        substate: substate || null,
      })
    },

    saveRequest: (seq: number, request: string): void => {
      saveRequest.run({ seq, request })
    },

    assignArtifact: (seq: number, artifactId: string): void => {
      assignArtifact.run({ seq, artifactId })
    },

    retry(seq: number): void {
      const before = bySeq.get({ seq })
      if (before) events.deviceStatusChanged(before, CODE.pending)
      // `timed_out` stays: the gates counted that device once already.
      db.update(dd)
        .set({ status: CODE.pending, active: true, finished: null, attempts: sql`${dd.attempts} + 1` })
        .where(eq(dd.seq, seq))
        .run()
    },

    setLogAvailable(seq: number): void {
      db.update(dd).set({ log: true }).where(eq(dd.seq, seq)).run()
    },

    /** Every unfinished device deployment of the device, oldest first. */
    listActiveForDevice: (tenantId: string, deviceId: string): DeviceDeploymentRow[] =>
      db
        .select()
        .from(dd)
        .where(and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), sql`active = 1`))
        .orderBy(asc(dd.created), asc(dd.seq))
        .all(),

    /** Sets every unfinished device deployment of the deployment to aborted (counts are the caller's). */
    abortActiveOfDeployment(tenantId: string, deploymentId: string): void {
      const aborted = db
        .update(dd)
        .set({ status: CODE.aborted, active: false })
        .where(and(eq(dd.tenantId, tenantId), eq(dd.deploymentId, deploymentId), ACTIVE_CODES))
        .returning({ id: dd.id, tenantId: dd.tenantId, deploymentId: dd.deploymentId, deviceId: dd.deviceId })
        .all()
      for (const row of aborted) events.deviceStatusChanged(row, CODE.aborted)
    },

    /** Device deployments (not deleted) of a deployment per status code. */
    countByStatus: (tenantId: string, deploymentId: string): { status: number; n: number }[] =>
      db
        .select({ status: dd.status, n: count() })
        .from(dd)
        .where(deploymentWhere(tenantId, deploymentId))
        .groupBy(dd.status)
        .all(),

    /** A deployment's device deployments by status, then device id (Mender's order). */
    listForDeployment: (
      tenantId: string,
      deploymentId: string,
      codes: number[] | undefined,
      window?: Window,
    ): DeviceDeploymentRow[] => {
      const query = db
        .select()
        .from(dd)
        .where(deploymentWhere(tenantId, deploymentId, codes))
        .orderBy(asc(dd.status), asc(dd.deviceId))
      return window ? query.limit(window.limit).offset(window.offset).all() : query.all()
    },

    countForDeployment: (tenantId: string, deploymentId: string, codes: number[] | undefined): number =>
      db
        .select({ n: count() })
        .from(dd)
        .where(deploymentWhere(tenantId, deploymentId, codes))
        .get()?.n ?? 0,

    /** A device's deployment history, deleted entries included: newest first, then by status code, descending. */
    listForDevice: (
      tenantId: string,
      deviceId: string,
      codes: number[] | undefined,
      offset: number,
      limit: number,
    ): DeviceDeploymentRow[] =>
      db
        .select()
        .from(dd)
        .where(deviceWhere(tenantId, deviceId, codes))
        .orderBy(desc(dd.created), desc(dd.status), desc(dd.seq))
        .limit(limit)
        .offset(offset)
        .all(),

    countForDevice: (tenantId: string, deviceId: string, codes: number[] | undefined): number =>
      db
        .select({ n: count() })
        .from(dd)
        .where(deviceWhere(tenantId, deviceId, codes))
        .get()?.n ?? 0,

    /** Marks the device's finished device deployments deleted: they stay listed but stop counting for selection. */
    deleteHistory(tenantId: string, deviceId: string, at: Date): void {
      db.update(dd)
        .set({ deleted: at })
        .where(and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), sql`active = 0 AND deleted IS NULL`))
        .run()
    },
  }
}
