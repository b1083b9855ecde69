import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import { createDeploymentEvents } from './events.ts'
import { CODE } from './status.ts'
import { deviceDeployments } from './tables.ts'

export type DeviceDeploymentRow = typeof deviceDeployments.$inferSelect
export type NewDeviceDeployment = Omit<DeviceDeploymentRow, 'seq'>

const dd = deviceDeployments
const notDeleted = sql`${dd.deleted} IS NULL`
const ACTIVE_CODES = sql`${dd.status} BETWEEN ${sql.raw(String(CODE.pauseFirst))} AND ${sql.raw(String(CODE.pending))}`

/** Device deployments: the device side of a deployment, and the poll's lookups. */
export function createDeviceDeploymentsStore(db: Database) {
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
  /**
   * The oldest active deployment listing the device, created after its newest finished (not
   * deleted) device deployment, that still has room. The device list drives the join (CROSS JOIN
   * keeps SQLite from starting at the deployments), so its index already gives the order.
   */
  const newDeploymentForDevice = db.$client.prepare<{ id: string }, [string, string]>(
    `SELECT dl.deployment_id AS id FROM deployments_deployment_devices dl
       CROSS JOIN deployments_deployments d ON d.id = dl.deployment_id
       WHERE dl.tenant_id = ?1 AND dl.device_id = ?2
         AND dl.created > (SELECT coalesce(max(created), -1) FROM deployments_device_deployments
           WHERE tenant_id = ?1 AND device_id = ?2 AND active = 0 AND deleted IS NULL)
         AND d.finished IS NULL AND d.device_count < d.max_devices
       ORDER BY dl.created, dl.deployment_id LIMIT 1`,
  )
  const bySeq = db
    .select()
    .from(dd)
    .where(eq(dd.seq, ph('seq')))
    .prepare()
  const lastFinishedCreated = db
    .select({ created: sql<number>`coalesce(max(created), -1)` })
    .from(dd)
    .where(
      and(
        eq(dd.tenantId, ph('tenantId')),
        eq(dd.deviceId, ph('deviceId')),
        sql`active = 0 AND deleted IS NULL`,
      ),
    )
    .prepare()
  // The status report.
  const forDevice = db
    .select()
    .from(dd)
    .where(
      and(
        eq(dd.tenantId, ph('tenantId')),
        eq(dd.deviceId, ph('deviceId')),
        eq(dd.deploymentId, ph('deploymentId')),
        notDeleted,
      ),
    )
    .prepare()
  const everForDevice = db
    .select({ seq: dd.seq })
    .from(dd)
    .where(
      and(
        eq(dd.tenantId, ph('tenantId')),
        eq(dd.deviceId, ph('deviceId')),
        eq(dd.deploymentId, ph('deploymentId')),
      ),
    )
    .limit(1)
    .prepare()
  const insert = db
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
    })
    .returning({ seq: dd.seq })
    .prepare()
  const updateStatus = db
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
    .prepare()
  const saveRequest = db
    .update(dd)
    .set({ request: sql`${ph('request')}` })
    .where(eq(dd.seq, ph('seq')))
    .prepare()
  const assignArtifact = db
    .update(dd)
    .set({ artifactId: sql`${ph('artifactId')}` })
    .where(eq(dd.seq, ph('seq')))
    .prepare()

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

    /** The id of the deployment the device should start next, if any. */
    findNewDeploymentForDevice: (tenantId: string, deviceId: string): string | undefined =>
      newDeploymentForDevice.get(tenantId, deviceId)?.id,

    findBySeq: (seq: number): DeviceDeploymentRow | undefined => bySeq.get({ seq }),

    /** Creation time (ms) of the device's newest finished, not deleted, device deployment; -1 for none. */
    lastFinishedCreated: (tenantId: string, deviceId: string): number =>
      lastFinishedCreated.get({ tenantId, deviceId })?.created ?? -1,

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
      window?: { offset: number; limit: number },
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

export type DeviceDeploymentsStore = ReturnType<typeof createDeviceDeploymentsStore>
