import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import type { EventType, NewEvent, OutboxEvent } from '../../events/model.ts'
import { outboxFor } from '../../events/outbox.ts'
import { pruneByAgeAndCount } from '../../events/store.ts'
import type { Integration, RecordedEvent } from './model.ts'
import { deliveries, integrations, webhookEvents } from './tables.ts'

/** A delivery whose turn it is: the oldest unfinished one of its subject at its integration. */
export type DueDelivery = {
  eventId: string
  integrationId: string
  subject: string
  attempts: number
  url: string
  secret: string | null
  event: { id: string; type: EventType; data: Record<string, unknown>; time: Date }
}

/** How an attempt ended: delivered, or failed (to try again at `retryAt`, or never again without one). */
export type AttemptOutcome =
  | { delivered: true; statusCode: number }
  | { delivered: false; statusCode: number | null; error: string; retryAt: Date | null }

/** Where iot-manager keeps integrations, the events they wanted and each delivery's progress. */
export interface IotManagerStore {
  /** The tenant's integrations, oldest first. */
  listIntegrations(tenantId: string): Promise<Integration[]>
  findIntegration(tenantId: string, id: string): Promise<Integration | undefined>
  /** Adds the integration; false when the tenant has one already (one per tenant, as in Mender). */
  insertIntegration(integration: Integration): Promise<boolean>
  /** Replaces where and how it posts; false when there is no such integration. */
  setCredentials(tenantId: string, id: string, url: string, secret: string | null): Promise<boolean>
  /** Removes the integration with its unfinished deliveries; false when there was none. */
  deleteIntegration(tenantId: string, id: string): Promise<boolean>
  /** Records the event with one pending delivery per integration, due now; recording it again changes nothing. */
  recordEvent(event: OutboxEvent, integrationIds: readonly string[], now: Date): Promise<void>
  /**
   * Fails (with a reason) the oldest unfinished deliveries of every integration that has more than
   * `maxPending`, so a dead receiver cannot fill the disk; answers how many.
   */
  dropExcess(maxPending: number): Promise<number>
  /** Up to `limit` deliveries due at `now`, one per (integration, subject) at most, oldest first. */
  dueDeliveries(now: Date, limit: number): Promise<DueDelivery[]>
  /** Records an attempt's outcome. */
  finishAttempt(eventId: string, integrationId: string, outcome: AttemptOutcome): Promise<void>
  /** The tenant's recorded events (those of `integrationId` only, when given), newest first. */
  listEvents(
    tenantId: string,
    integrationId: string | undefined,
    offset: number,
    limit: number,
  ): Promise<RecordedEvent[]>
  /** Deletes the events recorded before `before` (with their deliveries), then all but the newest `keep`. */
  prune(before: Date, keep: number): Promise<number>
  /** Writes device events into the outbox, all or none, as if deviceauth had (Mender's internal API). */
  announce(events: readonly NewEvent[]): Promise<void>
  /** Deletes the tenant's integrations and recorded events. */
  deleteTenant(tenantId: string): Promise<void>
}

type IntegrationRow = typeof integrations.$inferSelect
/** An integration row as the service sees it (either engine's rows have this shape). */
export const toIntegration = (row: IntegrationRow): Integration => ({ ...row, provider: 'webhook' })

/** Recorded events with their deliveries, from either engine's rows. */
export function toRecordedEvents(
  rows: Omit<typeof webhookEvents.$inferSelect, 'tenantId'>[],
  all: Omit<typeof deliveries.$inferSelect, 'nextAttemptTs' | 'tenantId' | 'seq' | 'subject'>[],
): RecordedEvent[] {
  const byEvent = Map.groupBy(all, (d) => d.eventId)
  return rows.map((row) => ({
    id: row.id,
    seq: row.seq,
    type: row.type,
    data: row.data,
    time: row.time,
    deliveries: (byEvent.get(row.id) ?? []).map((d) => ({
      integrationId: d.integrationId,
      state: d.state,
      attempts: d.attempts,
      statusCode: d.statusCode,
      error: d.error,
    })),
  }))
}

export function createIotManagerStore(db: Database): IotManagerStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const sqlite = db.$client
  const due = sqlite.prepare<
    {
      event_id: string
      integration_id: string
      subject: string
      attempts: number
      url: string
      secret: string | null
      type: EventType
      data: string
      time: number
    },
    [number, number]
  >(
    `SELECT d.event_id, d.integration_id, d.subject, d.attempts, i.url, i.secret, e.type, e.data, e.time
       FROM iot_manager_deliveries d
       JOIN iot_manager_events e ON e.id = d.event_id
       JOIN iot_manager_integrations i ON i.id = d.integration_id
      WHERE d.state = 'pending' AND d.next_attempt_ts <= ?1
        AND d.seq = (SELECT min(o.seq) FROM iot_manager_deliveries o
                      WHERE o.state = 'pending' AND o.integration_id = d.integration_id AND o.subject = d.subject)
      ORDER BY d.seq
      LIMIT ?2`,
  )
  const integrationWhere = (tenantId: string, id: string) =>
    and(eq(integrations.tenantId, tenantId), eq(integrations.id, id))

  /** Fails the oldest unfinished deliveries of an integration beyond `maxPending`. */
  function dropExcess(integrationId: string, maxPending: number): number {
    return sqlite.run(
      `UPDATE iot_manager_deliveries SET state = 'failed',
              error = 'dropped: the receiver fell more than ' || ?2 || ' events behind'
        WHERE state = 'pending' AND integration_id = ?1 AND seq <= (
          SELECT seq FROM iot_manager_deliveries WHERE state = 'pending' AND integration_id = ?1
           ORDER BY seq DESC LIMIT 1 OFFSET ?2)`,
      [integrationId, maxPending],
    ).changes
  }

  return {
    listIntegrations: async (tenantId) =>
      db
        .select()
        .from(integrations)
        .where(eq(integrations.tenantId, tenantId))
        .orderBy(asc(integrations.createdTs))
        .all()
        .map(toIntegration),

    async findIntegration(tenantId, id) {
      const row = db.select().from(integrations).where(integrationWhere(tenantId, id)).get()
      return row && toIntegration(row)
    },

    insertIntegration: async (integration) =>
      db
        .insert(integrations)
        .values(integration)
        .onConflictDoNothing()
        .returning({ id: integrations.id })
        .all().length > 0,

    setCredentials: async (tenantId, id, url, secret) =>
      db
        .update(integrations)
        .set({ url, secret })
        .where(integrationWhere(tenantId, id))
        .returning({ id: integrations.id })
        .all().length > 0,

    deleteIntegration: async (tenantId, id) =>
      db.transaction(() => {
        const gone =
          db.delete(integrations).where(integrationWhere(tenantId, id)).returning().all().length > 0
        if (gone)
          db.delete(deliveries)
            .where(and(eq(deliveries.integrationId, id), eq(deliveries.state, 'pending')))
            .run()
        return gone
      }),

    async dropExcess(maxPending) {
      const ids = db.select({ id: integrations.id }).from(integrations).all()
      return db.transaction(() => ids.reduce((sum, { id }) => sum + dropExcess(id, maxPending), 0))
    },

    async recordEvent(event, integrationIds, now) {
      db.transaction(() => {
        const { id, seq, tenantId, type, data, time, subject } = event
        db.insert(webhookEvents).values({ id, seq, tenantId, type, data, time }).onConflictDoNothing().run()
        for (const integrationId of integrationIds) {
          db.insert(deliveries)
            .values({
              eventId: id,
              integrationId,
              tenantId,
              seq,
              subject,
              state: 'pending',
              nextAttemptTs: now,
            })
            .onConflictDoNothing()
            .run()
        }
      })
    },

    dueDeliveries: async (now, limit) =>
      due.all(now.getTime(), limit).map((row) => ({
        eventId: row.event_id,
        integrationId: row.integration_id,
        subject: row.subject,
        attempts: row.attempts,
        url: row.url,
        secret: row.secret,
        event: { id: row.event_id, type: row.type, data: JSON.parse(row.data), time: new Date(row.time) },
      })),

    async finishAttempt(eventId, integrationId, outcome) {
      const where = and(eq(deliveries.eventId, eventId), eq(deliveries.integrationId, integrationId))
      const attempts = sql`${deliveries.attempts} + 1`
      if (outcome.delivered) {
        db.update(deliveries)
          .set({ state: 'delivered', attempts, statusCode: outcome.statusCode, error: null })
          .where(where)
          .run()
        return
      }
      db.update(deliveries)
        .set({
          state: outcome.retryAt ? 'pending' : 'failed',
          attempts,
          statusCode: outcome.statusCode,
          error: outcome.error,
          ...(outcome.retryAt ? { nextAttemptTs: outcome.retryAt } : {}),
        })
        .where(where)
        .run()
    },

    async listEvents(tenantId, integrationId, offset, limit) {
      const filter = integrationId
        ? sql`EXISTS (SELECT 1 FROM ${deliveries} WHERE ${deliveries.eventId} = ${webhookEvents.id} AND ${deliveries.integrationId} = ${integrationId})`
        : undefined
      const rows = db
        .select()
        .from(webhookEvents)
        .where(and(eq(webhookEvents.tenantId, tenantId), filter))
        .orderBy(desc(webhookEvents.seq))
        .limit(limit)
        .offset(offset)
        .all()
      const ids = rows.map((row) => row.id)
      const all =
        ids.length === 0 ? [] : db.select().from(deliveries).where(inArray(deliveries.eventId, ids)).all()
      return toRecordedEvents(rows, all)
    },

    async announce(events) {
      const outbox = outboxFor(db)
      db.transaction(() => {
        for (const event of events) outbox.append(event)
      })
    },

    async deleteTenant(tenantId) {
      db.transaction(() => {
        db.delete(integrations).where(eq(integrations.tenantId, tenantId)).run()
        db.delete(webhookEvents).where(eq(webhookEvents.tenantId, tenantId)).run()
        db.delete(deliveries).where(eq(deliveries.tenantId, tenantId)).run()
      })
    },

    prune: async (before, keep) => pruneByAgeAndCount(db, 'iot_manager_events', before, keep),
  }
}
