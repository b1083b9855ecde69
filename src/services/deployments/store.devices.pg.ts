import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { Window } from '../../../db/client.ts'
import type { DeploymentEvent } from './events.ts'
import { deploymentEvents } from './events.ts'
import type { NextCandidate } from './pickup.ts'
import { CODE } from './status.ts'
import type { Promised } from './steps.ts'
import { advisoryLock, LOCK_CLASS, type PgQueries } from './store.deployments.pg.ts'
import type { SharedDeviceDeploymentRows, Unstarted } from './store.devices.ts'
import { deployments, deviceDeployments } from './tables.pg.ts'

const dd = deviceDeployments
const notDeleted = sql`${dd.deleted} IS NULL`
const ACTIVE_CODES = sql`${dd.status} BETWEEN ${sql.raw(String(CODE.pauseFirst))} AND ${sql.raw(String(CODE.pending))}`
const ph = sql.placeholder

/**
 * The deployments a device has not started, oldest first: PostgreSQL's spelling of
 * UNSTARTED_DEPLOYMENTS in store.devices.ts (the same definition; see there). `startable` adds
 * what the poll needs: the device's phase has opened and the deployment is not paused.
 */
const unstarted = (tenantId: unknown, deviceId: unknown, startable: boolean): SQL => sql`
  SELECT dl.deployment_id AS id, dl.phase AS phase FROM deployments_deployment_devices dl
    JOIN deployments_deployments d ON d.tenant_id = dl.tenant_id AND d.id = dl.deployment_id
   WHERE dl.tenant_id = ${tenantId} AND dl.device_id = ${deviceId}
     AND dl.created >= (SELECT coalesce(min(extract(epoch FROM created) * 1000), 0)::bigint
       FROM deployments_deployments WHERE tenant_id = ${tenantId} AND finished IS NULL)
     AND dl.created > (SELECT coalesce((extract(epoch FROM max(created)) * 1000)::bigint, -1)
       FROM deployments_device_deployments
       WHERE tenant_id = ${tenantId} AND device_id = ${deviceId} AND NOT active AND deleted IS NULL)
     AND d.finished IS NULL AND (d.device_count < d.max_devices OR (d.dynamic AND d.max_devices = 0))
     AND NOT EXISTS (SELECT 1 FROM deployments_device_deployments x
       WHERE x.tenant_id = ${tenantId} AND x.device_id = ${deviceId} AND x.deployment_id = dl.deployment_id
         AND x.deleted IS NULL)
     ${startable ? sql`AND dl.phase < d.open_phases AND d.paused_at IS NULL` : sql``}
   ORDER BY dl.created, dl.deployment_id`

/**
 * The poll in one statement: the device's unfinished device deployment (it has at most one), else
 * the oldest deployment it may start, joined to its deployment. Where SQLite keeps "is anything
 * active" in memory, this asks the database every time, since another instance may have made or
 * finished a deployment since: a poll of an idle tenant is one index probe.
 */
export function pollQuery(q: PgQueries) {
  const tenantId = ph('tenantId')
  const deviceId = ph('deviceId')
  const candidate = sql`(
    SELECT a.deployment_id AS id, a.seq AS seq, 0::bigint AS phase FROM deployments_device_deployments a
     WHERE a.tenant_id = ${tenantId} AND a.device_id = ${deviceId} AND a.active
    UNION ALL
    (SELECT u.id, NULL, u.phase FROM (${unstarted(tenantId, deviceId, true)} LIMIT 1) u
      WHERE NOT EXISTS (SELECT 1 FROM deployments_device_deployments a
        WHERE a.tenant_id = ${tenantId} AND a.device_id = ${deviceId} AND a.active))
    LIMIT 1) c`
  return q
    .select({ deployment: deployments, active: dd, phase: sql<number>`c.phase`.mapWith(Number) })
    .from(candidate)
    .innerJoin(deployments, sql`${deployments.tenantId} = ${tenantId} AND ${deployments.id} = c.id`)
    .leftJoin(dd, sql`${dd.seq} = c.seq`)
}

/** Maps the poll's row to the candidate. */
export const toCandidate = (
  row: Awaited<ReturnType<typeof pollQuery>>[number] | undefined,
): NextCandidate | undefined =>
  row && { deployment: row.deployment, active: row.active ?? undefined, phase: row.active ? 0 : row.phase }

/**
 * Device deployment rows on PostgreSQL (see store.devices.ts for what each promises), run on `q`.
 * Events go to `events`, which the store appends to the outbox as the change's last step.
 */
export function createPgDeviceDeploymentRows(
  q: PgQueries,
  events: DeploymentEvent[],
): Promised<SharedDeviceDeploymentRows> & {
  findNext(tenantId: string, deviceId: string): Promise<NextCandidate | undefined>
} {
  const forDevice = (tenantId: string, deploymentId: string, deviceId: string) =>
    and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), eq(dd.deploymentId, deploymentId))
  const deploymentWhere = (tenantId: string, deploymentId: string, codes?: number[]) =>
    and(
      eq(dd.tenantId, tenantId),
      eq(dd.deploymentId, deploymentId),
      codes ? inArray(dd.status, codes) : undefined,
      notDeleted,
    )
  const deviceWhere = (tenantId: string, deviceId: string, codes?: number[]) =>
    and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), codes ? inArray(dd.status, codes) : undefined)
  const toUnstarted = (rows: Record<string, unknown>[]): Unstarted[] =>
    rows.map((row) => ({ id: row.id as string, phase: Number(row.phase) }))

  return {
    findNext: async (tenantId, deviceId) =>
      toCandidate((await pollQuery(q).execute({ tenantId, deviceId }))[0]),

    async lockDevice(tenantId, deviceId) {
      await advisoryLock(q, LOCK_CLASS.device, `${tenantId}/${deviceId}`)
    },

    unstartedDeployments: async (tenantId, deviceId) =>
      toUnstarted(await q.execute<Record<string, unknown>>(unstarted(tenantId, deviceId, false))),

    findBySeq: async (seq) => (await q.select().from(dd).where(eq(dd.seq, seq)))[0],

    findForDevice: async (tenantId, deploymentId, deviceId) =>
      (
        await q
          .select()
          .from(dd)
          .where(and(forDevice(tenantId, deploymentId, deviceId), notDeleted))
      )[0],

    hadForDevice: async (tenantId, deploymentId, deviceId) =>
      (
        await q
          .select({ seq: dd.seq })
          .from(dd)
          .where(forDevice(tenantId, deploymentId, deviceId))
          .limit(1)
      ).length > 0,

    async insert(row) {
      const [inserted] = await q.insert(dd).values(row).returning({ seq: dd.seq })
      if (!inserted) throw new Error('deployments: device deployment insert returned nothing')
      events.push(deploymentEvents.deviceStatusChanged(row, row.status))
      return inserted.seq
    },

    async updateStatus(seq, status, active, now, substate) {
      // One round trip: the row as it was (for the event) comes back from the update itself.
      const [before] = await q.execute<{
        id: string
        tenant_id: string
        deployment_id: string
        device_id: string
        status: string
        substate: string | null
      }>(sql`
        UPDATE deployments_device_deployments dd SET status = ${status}, active = ${active},
               started = CASE WHEN dd.started IS NULL AND ${status}::bigint <> ${CODE.pending} THEN ${now} ELSE dd.started END,
               finished = CASE WHEN NOT ${active}::boolean THEN ${now} ELSE dd.finished END,
               substate = coalesce(${substate || null}, dd.substate)
          FROM (SELECT seq, status, substate FROM deployments_device_deployments WHERE seq = ${seq} FOR UPDATE) o
         WHERE dd.seq = o.seq
        RETURNING dd.id, dd.tenant_id, dd.deployment_id, dd.device_id, o.status, o.substate`)
      if (before && (Number(before.status) !== status || (substate && substate !== before.substate))) {
        const ref = {
          ...{ id: before.id, tenantId: before.tenant_id },
          ...{ deploymentId: before.deployment_id, deviceId: before.device_id },
        }
        events.push(deploymentEvents.deviceStatusChanged(ref, status, substate || before.substate))
      }
    },

    async saveRequest(seq, request) {
      await q.update(dd).set({ request }).where(eq(dd.seq, seq))
    },

    async assignArtifact(seq, artifactId) {
      await q.update(dd).set({ artifactId }).where(eq(dd.seq, seq))
    },

    async retry(seq) {
      // `timed_out` stays: the gates counted that device once already.
      const [after] = await q
        .update(dd)
        .set({ status: CODE.pending, active: true, finished: null, attempts: sql`${dd.attempts} + 1` })
        .where(eq(dd.seq, seq))
        .returning()
      if (after) events.push(deploymentEvents.deviceStatusChanged(after, CODE.pending))
    },

    async setLogAvailable(seq) {
      await q.update(dd).set({ log: true }).where(eq(dd.seq, seq))
    },

    listActiveForDevice: async (tenantId, deviceId) =>
      q
        .select()
        .from(dd)
        .where(and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), eq(dd.active, true)))
        .orderBy(asc(dd.created), asc(dd.seq)),

    async abortActiveOfDeployment(tenantId, deploymentId) {
      const aborted = await q
        .update(dd)
        .set({ status: CODE.aborted, active: false })
        .where(and(eq(dd.tenantId, tenantId), eq(dd.deploymentId, deploymentId), ACTIVE_CODES))
        .returning({ id: dd.id, tenantId: dd.tenantId, deploymentId: dd.deploymentId, deviceId: dd.deviceId })
      for (const row of aborted) events.push(deploymentEvents.deviceStatusChanged(row, CODE.aborted))
    },

    countByStatus: async (tenantId, deploymentId) =>
      q
        .select({ status: dd.status, n: count() })
        .from(dd)
        .where(deploymentWhere(tenantId, deploymentId))
        .groupBy(dd.status),

    async listForDeployment(
      tenantId: string,
      deploymentId: string,
      codes: number[] | undefined,
      window?: Window,
    ) {
      const query = q
        .select()
        .from(dd)
        .where(deploymentWhere(tenantId, deploymentId, codes))
        .orderBy(asc(dd.status), asc(dd.deviceId))
      return window ? await query.limit(window.limit).offset(window.offset) : await query
    },

    countForDeployment: async (tenantId, deploymentId, codes) =>
      (
        await q
          .select({ n: count() })
          .from(dd)
          .where(deploymentWhere(tenantId, deploymentId, codes))
      )[0]?.n ?? 0,

    listForDevice: async (tenantId, deviceId, codes, offset, limit) =>
      q
        .select()
        .from(dd)
        .where(deviceWhere(tenantId, deviceId, codes))
        .orderBy(desc(dd.created), desc(dd.status), desc(dd.seq))
        .limit(limit)
        .offset(offset),

    countForDevice: async (tenantId, deviceId, codes) =>
      (
        await q
          .select({ n: count() })
          .from(dd)
          .where(deviceWhere(tenantId, deviceId, codes))
      )[0]?.n ?? 0,

    async deleteHistory(tenantId, deviceId, at) {
      await q
        .update(dd)
        .set({ deleted: at })
        .where(and(eq(dd.tenantId, tenantId), eq(dd.deviceId, deviceId), sql`NOT active AND deleted IS NULL`))
    },
  }
}
