import { Elysia, t } from 'elysia'
import type { OutboxEvent } from '../events/model.ts'
import type { EventsService } from '../events/service.ts'
import type { AuthPlugin, UserPrincipal } from '../gateway/auth.ts'

/** A comment line this often keeps proxies and the server's idle timeout from closing a quiet stream. */
const HEARTBEAT_MS = 15_000
/** A reader this far behind (bytes queued) is cut off; it reconnects with Last-Event-ID and catches up. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024

const encoder = new TextEncoder()

/** One server-sent event: the outbox seq as its id, so a reconnect resumes after it. */
export function formatEvent(event: OutboxEvent): string {
  const body = {
    id: event.id,
    type: event.type,
    subject: event.subject,
    time: event.time.toISOString(),
    data: event.data,
  }
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(body)}\n\n`
}

/**
 * The live stream of the caller's tenant's events as `text/event-stream`. It starts from now, or
 * after `Last-Event-ID` (a seq) to resume. The stream ends when the client goes, when it falls too
 * far behind, or when its token is no longer valid (checked at each heartbeat).
 */
function eventStream(
  events: Pick<EventsService, 'subscribe'>,
  isLive: (principal: UserPrincipal) => boolean | Promise<boolean>,
  user: UserPrincipal,
  afterSeq: number | undefined,
): ReadableStream<Uint8Array> {
  let finish = () => {}
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const send = (text: string) => {
          if ((controller.desiredSize ?? 0) < -MAX_QUEUED_BYTES) return finish()
          controller.enqueue(encoder.encode(text))
        }
        const stop = events.subscribe(
          (event) => {
            if (event.tenantId === user.tenantId) send(formatEvent(event))
          },
          afterSeq === undefined ? {} : { afterSeq },
        )
        const beat = async () => ((await isLive(user)) ? send(': still here\n\n') : finish())
        // A failed check ends the stream like a revoked token.
        const heartbeat = setInterval(() => void beat().catch(() => finish()), HEARTBEAT_MS)
        finish = () => {
          stop()
          clearInterval(heartbeat)
          try {
            controller.close()
          } catch {}
        }
        // Tells the client the stream is open before any event comes.
        send(': connected\n\n')
      },
      cancel: () => finish(),
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
  )
}

export const consoleEventRoutes = (
  events: Pick<EventsService, 'subscribe'>,
  isLive: (principal: UserPrincipal) => boolean | Promise<boolean>,
  auth: AuthPlugin,
) =>
  new Elysia({ prefix: '/api/management/v1/events', detail: { tags: ['events'] } }).use(auth).get(
    '/stream',
    ({ user, headers }) => {
      const last = headers['last-event-id']
      const afterSeq = last && /^\d{1,15}$/.test(last) ? Number(last) : undefined
      return new Response(eventStream(events, isLive, user, afterSeq), {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
        },
      })
    },
    {
      user: true,
      headers: t.Object({
        'last-event-id': t.Optional(
          t.String({ maxLength: 32, description: 'Resume after this event id (a seq).' }),
        ),
      }),
      detail: {
        summary:
          "The tenant's device and deployment events as server-sent events (see the README's Events section)",
      },
    },
  )
