import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { OutboxEvent } from '../../src/events/model.ts'
import type { Integration } from '../../src/services/iot-manager/model.ts'
import type { IotManagerStore } from '../../src/services/iot-manager/store.ts'

export type IotManagerContractTarget = {
  store: IotManagerStore
  /** Every event in the engine's outbox, oldest first. */
  outbox(): Promise<OutboxEvent[]>
  close(): Promise<void>
}

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000)
let seq = 0
const event = (subject: string, time = at(0), tenantId = ''): OutboxEvent => ({
  seq: ++seq,
  id: crypto.randomUUID(),
  tenantId,
  type: 'device-status-changed',
  subject,
  data: { id: subject, status: 'accepted' },
  time,
})
const integration = (tenantId: string, id = crypto.randomUUID()): Integration => ({
  id,
  tenantId,
  provider: 'webhook',
  url: 'http://127.0.0.1:1/hook',
  secret: 'abcd',
  description: 'd',
  eventTypes: ['device-status-changed'],
  createdTs: at(0),
})

/** What every engine's iot-manager store promises; each engine's test file runs it against a real database. */
export function iotManagerStoreContract(name: string, open: () => Promise<IotManagerContractTarget>): void {
  describe(`${name} iot-manager store`, () => {
    let target: IotManagerContractTarget
    let store: IotManagerStore
    beforeAll(async () => {
      target = await open()
      store = target.store
    })
    afterAll(() => target.close())

    test('integrations: one per tenant, found by tenant, credentials replaced, deleted', async () => {
      const a = integration('t-a')
      expect(await store.insertIntegration(a)).toBe(true)
      expect(await store.insertIntegration(integration('t-a'))).toBe(false)
      expect(await store.listIntegrations('t-a')).toEqual([a])
      expect(await store.listIntegrations('t-b')).toEqual([])
      expect(await store.findIntegration('t-b', a.id)).toBeUndefined()
      expect(await store.setCredentials('t-a', a.id, 'https://example.com/h', null)).toBe(true)
      expect(await store.findIntegration('t-a', a.id)).toMatchObject({
        url: 'https://example.com/h',
        secret: null,
      })
      expect(await store.setCredentials('t-b', a.id, 'https://x/', null)).toBe(false)
      expect(await store.deleteIntegration('t-a', a.id)).toBe(true)
      expect(await store.deleteIntegration('t-a', a.id)).toBe(false)
    })

    test('deliveries: recorded once, due one per subject in order, retried, delivered', async () => {
      const hook = integration('')
      await store.insertIntegration(hook)
      const [a1, a2, b1] = [event('dev-a'), event('dev-a'), event('dev-b')]
      for (const e of [a1!, a2!, b1!]) await store.recordEvent(e, [hook.id], at(0))
      await store.recordEvent(a1!, [hook.id], at(0))
      let due = await store.dueDeliveries(at(0), 10)
      expect(due.map((d) => d.eventId)).toEqual([a1!.id, b1!.id])
      expect(due[0]).toMatchObject({
        integrationId: hook.id,
        subject: 'dev-a',
        attempts: 0,
        url: hook.url,
        secret: 'abcd',
      })
      expect(due[0]!.event).toEqual({ id: a1!.id, type: a1!.type, data: a1!.data, time: a1!.time })

      await store.finishAttempt(a1!.id, hook.id, {
        delivered: false,
        statusCode: 500,
        error: 'boom',
        retryAt: at(5),
      })
      due = await store.dueDeliveries(at(1), 10)
      // a1 waits for its retry; a2 may not overtake it.
      expect(due.map((d) => d.eventId)).toEqual([b1!.id])
      due = await store.dueDeliveries(at(5), 10)
      expect(due.map((d) => [d.eventId, d.attempts])).toEqual([
        [a1!.id, 1],
        [b1!.id, 0],
      ])
      await store.finishAttempt(a1!.id, hook.id, { delivered: true, statusCode: 204 })
      await store.finishAttempt(b1!.id, hook.id, {
        delivered: false,
        statusCode: null,
        error: 'gone',
        retryAt: null,
      })
      due = await store.dueDeliveries(at(5), 10)
      expect(due.map((d) => d.eventId)).toEqual([a2!.id])

      const listed = await store.listEvents('', undefined, 0, 10)
      expect(listed.map((e) => e.id)).toEqual([b1!.id, a2!.id, a1!.id])
      expect(listed[2]!.deliveries).toEqual([
        { integrationId: hook.id, state: 'delivered', attempts: 2, statusCode: 204, error: null },
      ])
      expect(listed[0]!.deliveries[0]).toMatchObject({ state: 'failed', attempts: 1, error: 'gone' })
      expect((await store.listEvents('', hook.id, 1, 1)).map((e) => e.id)).toEqual([a2!.id])
      expect(await store.listEvents('', crypto.randomUUID(), 0, 10)).toEqual([])
      expect(await store.listEvents('other', undefined, 0, 10)).toEqual([])
      await store.deleteIntegration('', hook.id)
      expect(await store.dueDeliveries(at(5), 10)).toEqual([])
    })

    test('unsent deliveries are bounded per integration, and old events are pruned', async () => {
      const hook = integration('t-bound')
      await store.insertIntegration(hook)
      const events = Array.from({ length: 5 }, (_, i) => event(`dev-${i}`, at(100 + i), 't-bound'))
      for (const e of events) await store.recordEvent(e, [hook.id], at(0))
      expect(await store.dropExcess(3)).toBe(2)
      const listed = await store.listEvents('t-bound', undefined, 0, 10)
      const states = Object.fromEntries(listed.map((e) => [e.id, e.deliveries[0]!.state]))
      expect(events.map((e) => states[e.id])).toEqual(['failed', 'failed', 'pending', 'pending', 'pending'])
      expect(listed.find((e) => e.id === events[0]!.id)!.deliveries[0]!.error).toContain('dropped')
      expect(await store.dropExcess(3)).toBe(0)
      expect(await store.prune(at(102), 1000)).toBeGreaterThanOrEqual(2)
      expect((await store.listEvents('t-bound', undefined, 0, 10)).map((e) => e.id)).toEqual(
        events
          .slice(2)
          .map((e) => e.id)
          .reverse(),
      )
      await store.prune(at(0), 1)
      expect((await store.listEvents('t-bound', undefined, 0, 10)).map((e) => e.id)).toEqual([events[4]!.id])
    })

    test('announcements go into the outbox together; deleting a tenant removes its integrations and events', async () => {
      const before = (await target.outbox()).length
      await store.announce([
        { tenantId: 't-x', type: 'device-provisioned', subject: 'd1', data: { id: 'd1' }, time: at(1) },
        { tenantId: 't-x', type: 'device-decommissioned', subject: 'd1', data: { id: 'd1' }, time: at(2) },
      ])
      const written = (await target.outbox()).slice(before)
      expect(written.map((e) => [e.tenantId, e.type, e.subject, e.data])).toEqual([
        ['t-x', 'device-provisioned', 'd1', { id: 'd1' }],
        ['t-x', 'device-decommissioned', 'd1', { id: 'd1' }],
      ])
      const hook = integration('t-x')
      await store.insertIntegration(hook)
      await store.recordEvent({ ...event('d1', at(3), 't-x') }, [hook.id], at(3))
      await store.deleteTenant('t-x')
      expect(await store.listIntegrations('t-x')).toEqual([])
      expect(await store.listEvents('t-x', undefined, 0, 10)).toEqual([])
      expect((await store.dueDeliveries(at(10), 100)).filter((d) => d.integrationId === hook.id)).toEqual([])
    })
  })
}
