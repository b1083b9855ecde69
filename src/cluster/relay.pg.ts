import { and, eq } from 'drizzle-orm'
import type { PgDatabase } from '../../db/pg.ts'
import type { Logger } from '../log.ts'
import { createUnpacker, type DeviceHolders, type Piece, packMessages, type Relay } from './relay.ts'
import { deviceHolders } from './tables.pg.ts'

/**
 * Raw bytes per notification: base64 makes them 4/3 as long, and PostgreSQL refuses a NOTIFY
 * payload of 8000 bytes or more (the sender's id and the piece's number take the rest).
 */
const PIECE_BYTES = 5700
/** Notifications sent by one statement (one round trip and one commit for up to ~250 KB). */
const NOTIFIES_PER_STATEMENT = 32
const KIND_CODES: Record<Piece, string> = { batch: 'b', first: 'f', middle: 'm', last: 'l' }
const KINDS: Record<string, Piece> = { b: 'batch', f: 'first', m: 'middle', l: 'last' }

/** Each instance listens on a channel of its own, named after its id. */
const channelOf = (instanceId: string) => `bender_relay_${instanceId}`

/**
 * The relay over PostgreSQL's LISTEN/NOTIFY: nothing to configure, no address of an instance to
 * know, and the database every instance reaches anyway. Messages to one instance leave one at a
 * time (each notification is its own commit, and PostgreSQL delivers notifications in commit
 * order), so they arrive in order; those queued while one is under way leave together. A piece
 * lost while the listening connection reconnects shows as a gap in the sender's numbering, and
 * the message it belonged to is dropped rather than glued to the next.
 */
export async function createPgRelay(db: PgDatabase, log: Logger): Promise<Relay> {
  const instanceId = crypto.randomUUID().replaceAll('-', '')
  const receivers: ((from: string, message: Uint8Array) => void)[] = []
  const senders = new Map<string, { next: number; unpacker: ReturnType<typeof createUnpacker> }>()
  const queues = new Map<string, { messages: Uint8Array[]; seq: number; draining?: Promise<void> }>()
  let closed = false

  function received(payload: string): void {
    const [from, seqText, code, body] = payload.split('|')
    const kind = KINDS[code ?? '']
    if (!from || !kind || body === undefined) return
    let sender = senders.get(from)
    if (!sender) {
      const unpacker = createUnpacker((message) => {
        for (const receive of receivers) receive(from, message)
      })
      sender = { next: Number(seqText), unpacker }
      senders.set(from, sender)
    }
    const seq = Number(seqText)
    if (seq !== sender.next) {
      log.warn('relay messages from another instance were lost', { from, expected: sender.next, got: seq })
      sender.unpacker.gap()
    }
    sender.next = seq + 1
    sender.unpacker.piece(kind, Buffer.from(body, 'base64'))
  }

  const subscription = await db.$client.listen(channelOf(instanceId), received)

  async function drain(to: string, queue: { messages: Uint8Array[]; seq: number }): Promise<void> {
    while (queue.messages.length > 0 && !closed) {
      const payloads = packMessages(queue.messages.splice(0), PIECE_BYTES).map((piece) => {
        const body = Buffer.from(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.byteLength)
        return `${instanceId}|${queue.seq++}|${KIND_CODES[piece.kind]}|${body.toString('base64')}`
      })
      for (let at = 0; at < payloads.length; at += NOTIFIES_PER_STATEMENT) {
        const some = payloads.slice(at, at + NOTIFIES_PER_STATEMENT)
        // One statement, one commit: its notifications are queued left to right and delivered so.
        const calls = some.map((_, i) => `pg_notify($1, $${i + 2})`).join(', ')
        try {
          await db.$client.unsafe(`SELECT ${calls}`, [channelOf(to), ...some])
        } catch (err) {
          log.warn('relaying a message to another instance failed', { to, err })
        }
      }
    }
  }

  return {
    instanceId,
    send(to, message) {
      if (closed) return
      let queue = queues.get(to)
      if (!queue) {
        queue = { messages: [], seq: 0 }
        queues.set(to, queue)
      }
      queue.messages.push(message)
      if (queue.draining) return
      const q = queue
      q.draining = drain(to, q).finally(() => {
        q.draining = undefined
      })
    },
    onMessage(receive) {
      receivers.push(receive)
    },
    async flushed() {
      await Promise.all([...queues.values()].map((q) => q.draining))
    },
    async close() {
      closed = true
      await Promise.all([...queues.values()].map((q) => q.draining))
      await subscription.unlisten().catch(() => undefined)
    },
  }
}

/** Who holds each device's websocket, in a table every instance reads. */
export function createPgDeviceHolders(db: PgDatabase): DeviceHolders {
  const device = (tenantId: string, deviceId: string) =>
    and(eq(deviceHolders.tenantId, tenantId), eq(deviceHolders.deviceId, deviceId))
  return {
    async claim(instanceId, tenantId, deviceId, at) {
      await db
        .insert(deviceHolders)
        .values({ tenantId, deviceId, instanceId, since: at })
        .onConflictDoUpdate({
          target: [deviceHolders.tenantId, deviceHolders.deviceId],
          set: { instanceId, since: at },
        })
    },
    async release(instanceId, tenantId, deviceId) {
      await db
        .delete(deviceHolders)
        .where(and(device(tenantId, deviceId), eq(deviceHolders.instanceId, instanceId)))
    },
    async holder(tenantId, deviceId) {
      const [row] = await db
        .select({ instanceId: deviceHolders.instanceId })
        .from(deviceHolders)
        .where(device(tenantId, deviceId))
      return row?.instanceId
    },
    async releaseAll(instanceId) {
      await db.delete(deviceHolders).where(eq(deviceHolders.instanceId, instanceId))
    },
  }
}
