import type { Clock } from '../../clock.ts'
import type { Logger } from '../../log.ts'
import type { DueDelivery, IotManagerStore } from './store.ts'
import { postWebhook, webhookBody } from './webhook.ts'

/** Requests in flight at once, over all receivers. */
const MAX_IN_FLIGHT = 8
/** How often due retries are looked for when nothing else wakes the deliverer. */
const TICK_MS = 1000
/** Waits between attempts: 1 s, doubling, at most 10 minutes. */
const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 600_000

export const retryDelayMs = (attempts: number): number =>
  Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS)

/**
 * Sends recorded deliveries in the background, never on a device's request: at most one request
 * per (integration, subject) at a time, and only for the oldest unfinished delivery of that subject,
 * so each device's events arrive in order. A failure is retried with backoff until the attempts run
 * out; a delivery whose outcome was not recorded (the process stopped or died) is sent again.
 */
export function createDeliverer(parts: {
  store: IotManagerStore
  clock: Clock
  log: Logger
  timeoutMs: number
  maxAttempts: number
}) {
  const { store, clock, log, timeoutMs, maxAttempts } = parts
  const inFlight = new Set<string>()
  const abort = new AbortController()
  let pumping = false
  let again = false
  /**
   * Deliveries whose attempt was recorded while the due ones were being read: that read may have
   * seen their rows from before (on PostgreSQL the query and the write overlap), so they are not
   * sent again from it.
   */
  const recordedDuringRead = new Set<string>()
  const deliveryKey = (d: DueDelivery) => `${d.eventId}\n${d.integrationId}`

  async function attempt(delivery: DueDelivery): Promise<void> {
    const body = webhookBody(delivery.event)
    const result = await postWebhook(delivery.url, delivery.secret, body, { timeoutMs, abort: abort.signal })
    if (abort.signal.aborted) return
    const attempts = delivery.attempts + 1
    await store.finishAttempt(
      delivery.eventId,
      delivery.integrationId,
      result.ok
        ? { delivered: true, statusCode: result.statusCode ?? 200 }
        : {
            delivered: false,
            statusCode: result.statusCode,
            error: result.error ?? 'failed',
            retryAt: attempts < maxAttempts ? new Date(clock.now().getTime() + retryDelayMs(attempts)) : null,
          },
    )
  }

  async function pump(): Promise<void> {
    if (abort.signal.aborted) return
    if (pumping) {
      again = true
      return
    }
    pumping = true
    try {
      do {
        again = false
        if (inFlight.size >= MAX_IN_FLIGHT) break
        recordedDuringRead.clear()
        const due = await store.dueDeliveries(clock.now(), MAX_IN_FLIGHT + inFlight.size)
        for (const delivery of due) {
          const key = `${delivery.integrationId}\n${delivery.subject}`
          if (inFlight.has(key) || recordedDuringRead.has(deliveryKey(delivery))) continue
          if (inFlight.size >= MAX_IN_FLIGHT) break
          inFlight.add(key)
          attempt(delivery)
            .catch((err) => log.error('a webhook delivery failed to record', { err }))
            .finally(() => {
              recordedDuringRead.add(deliveryKey(delivery))
              inFlight.delete(key)
              void pump()
            })
        }
      } while (again)
    } catch (err) {
      log.error('looking for webhook deliveries failed', { err })
    } finally {
      pumping = false
    }
  }

  const timer = setInterval(() => void pump(), TICK_MS)
  timer.unref()

  return {
    /** Looks for due deliveries now (after new ones were recorded). */
    wake: (): void => void pump(),
    /** Stops sending; requests in flight are dropped unrecorded, to be sent again at the next start. */
    stop(): void {
      clearInterval(timer)
      abort.abort()
    },
  }
}
