import { and, asc, desc, eq, inArray, lte, sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { pgOutboxFor } from '../../events/outbox.pg.ts'
import { affected, prunePgByAgeAndCount } from '../../events/store.pg.ts'
import { type IotManagerStore, toIntegration, toRecordedEvents } from './store.ts'
import { deliveries, integrations, webhookEvents } from './tables.pg.ts'

/** iot-manager's store on PostgreSQL (see store.ts for what each method promises). */
export function createPgIotManagerStore(db: PgDatabase): IotManagerStore {
  const integrationWhere = (tenantId: string, id: string) =>
    and(eq(integrations.tenantId, tenantId), eq(integrations.id, id))
  // Only the oldest unfinished delivery of a subject to an integration may be attempted.
  const oldestOfSubject = sql`${deliveries.seq} = (
    SELECT min(o.seq) FROM iot_manager_deliveries o
     WHERE o.state = 'pending' AND o.integration_id = ${deliveries.integrationId} AND o.subject = ${deliveries.subject})`

  return {
    listIntegrations: async (tenantId) =>
      (
        await db
          .select()
          .from(integrations)
          .where(eq(integrations.tenantId, tenantId))
          .orderBy(asc(integrations.createdTs))
      ).map(toIntegration),

    async findIntegration(tenantId, id) {
      const [row] = await db.select().from(integrations).where(integrationWhere(tenantId, id))
      return row && toIntegration(row)
    },

    insertIntegration: async (integration) =>
      (
        await db
          .insert(integrations)
          .values(integration)
          .onConflictDoNothing()
          .returning({ id: integrations.id })
      ).length > 0,

    setCredentials: async (tenantId, id, url, secret) =>
      (
        await db
          .update(integrations)
          .set({ url, secret })
          .where(integrationWhere(tenantId, id))
          .returning({ id: integrations.id })
      ).length > 0,

    deleteIntegration: (tenantId, id) =>
      db.transaction(async (tx) => {
        const gone = await tx
          .delete(integrations)
          .where(integrationWhere(tenantId, id))
          .returning({ id: integrations.id })
        if (gone.length > 0)
          await tx
            .delete(deliveries)
            .where(and(eq(deliveries.integrationId, id), eq(deliveries.state, 'pending')))
        return gone.length > 0
      }),

    dropExcess: (maxPending) =>
      db.transaction(async (tx) => {
        let dropped = 0
        for (const { id } of await tx.select({ id: integrations.id }).from(integrations)) {
          const result = await tx.execute(sql`
            UPDATE iot_manager_deliveries SET state = 'failed',
                   error = 'dropped: the receiver fell more than ' || ${String(maxPending)} || ' events behind'
             WHERE state = 'pending' AND integration_id = ${id} AND seq <= (
               SELECT seq FROM iot_manager_deliveries WHERE state = 'pending' AND integration_id = ${id}
                ORDER BY seq DESC LIMIT 1 OFFSET ${maxPending})`)
          dropped += affected(result)
        }
        return dropped
      }),

    async recordEvent(event, integrationIds, now) {
      const { id, seq, tenantId, type, data, time, subject } = event
      await db.transaction(async (tx) => {
        await tx.insert(webhookEvents).values({ id, seq, tenantId, type, data, time }).onConflictDoNothing()
        if (integrationIds.length === 0) return
        await tx
          .insert(deliveries)
          .values(
            integrationIds.map((integrationId) => ({
              eventId: id,
              integrationId,
              tenantId,
              seq,
              subject,
              state: 'pending' as const,
              nextAttemptTs: now,
            })),
          )
          .onConflictDoNothing()
      })
    },

    async dueDeliveries(now, limit) {
      const rows = await db
        .select({
          eventId: deliveries.eventId,
          integrationId: deliveries.integrationId,
          subject: deliveries.subject,
          attempts: deliveries.attempts,
          url: integrations.url,
          secret: integrations.secret,
          type: webhookEvents.type,
          data: webhookEvents.data,
          time: webhookEvents.time,
        })
        .from(deliveries)
        .innerJoin(webhookEvents, eq(webhookEvents.id, deliveries.eventId))
        .innerJoin(integrations, eq(integrations.id, deliveries.integrationId))
        .where(and(eq(deliveries.state, 'pending'), lte(deliveries.nextAttemptTs, now), oldestOfSubject))
        .orderBy(asc(deliveries.seq))
        .limit(limit)
      return rows.map(({ type, data, time, ...row }) => ({
        ...row,
        event: { id: row.eventId, type, data, time },
      }))
    },

    async finishAttempt(eventId, integrationId, outcome) {
      const where = and(eq(deliveries.eventId, eventId), eq(deliveries.integrationId, integrationId))
      const attempts = sql`${deliveries.attempts} + 1`
      if (outcome.delivered) {
        await db
          .update(deliveries)
          .set({ state: 'delivered', attempts, statusCode: outcome.statusCode, error: null })
          .where(where)
        return
      }
      await db
        .update(deliveries)
        .set({
          state: outcome.retryAt ? 'pending' : 'failed',
          attempts,
          statusCode: outcome.statusCode,
          error: outcome.error,
          ...(outcome.retryAt ? { nextAttemptTs: outcome.retryAt } : {}),
        })
        .where(where)
    },

    async listEvents(tenantId, integrationId, offset, limit) {
      const filter = integrationId
        ? sql`EXISTS (SELECT 1 FROM ${deliveries} WHERE ${deliveries.eventId} = ${webhookEvents.id} AND ${deliveries.integrationId} = ${integrationId})`
        : undefined
      const rows = await db
        .select()
        .from(webhookEvents)
        .where(and(eq(webhookEvents.tenantId, tenantId), filter))
        .orderBy(desc(webhookEvents.seq))
        .limit(limit)
        .offset(offset)
      const ids = rows.map((row) => row.id)
      const all =
        ids.length === 0 ? [] : await db.select().from(deliveries).where(inArray(deliveries.eventId, ids))
      return toRecordedEvents(rows, all)
    },

    async announce(events) {
      const outbox = pgOutboxFor(db)
      await db.transaction(async (tx) => {
        for (const event of events) await outbox.append(tx, event)
      })
    },

    async deleteTenant(tenantId) {
      await db.transaction(async (tx) => {
        await tx.delete(integrations).where(eq(integrations.tenantId, tenantId))
        await tx.delete(webhookEvents).where(eq(webhookEvents.tenantId, tenantId))
        await tx.delete(deliveries).where(eq(deliveries.tenantId, tenantId))
      })
    },

    prune: (before, keep) => prunePgByAgeAndCount(db, 'iot_manager_events', before, keep),
  }
}
