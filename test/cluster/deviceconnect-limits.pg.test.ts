import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SLOT_LEASE_MS } from '../../src/services/deviceconnect/places.ts'
import { acceptedDevice } from '../deployments/rollout.ts'
import { Socket, UPGRADE_HEADERS, wsUrl } from '../deviceconnect/helpers.ts'
import { type Instances, startInstances } from '../helpers/instances.ts'
import { waitFor } from '../helpers/server.ts'

// deviceconnect's session limits on two real instances sharing one PostgreSQL database: a user's
// sessions count the same whichever instance each one arrived at.

const EMAIL = 'admin@example.com'
const PASSWORD = 'correct-horse-1'
const PER_USER = 3
const MGMT = '/api/management/v1/deviceconnect'
let cluster: Instances
let a: Instances['nodes'][number]
let b: Instances['nodes'][number]
let admin: string
let device: { id: string; token: string }
let deviceWs: Socket

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
type Node = { url: string }

/** A user's terminal session opened on `node` (its upgrade accepted), or why it was refused. */
async function session(node: Node): Promise<Socket> {
  const ws = new Socket(wsUrl(node.url, `${MGMT}/devices/${device.id}/connect`), bearer(admin))
  await ws.opened
  return ws
}

/** The answer to an upgrade refused before it happens: its status and Mender error body. */
async function refusal(node: Node): Promise<{ status: number; error?: string }> {
  const res = await fetch(`${node.url}${MGMT}/devices/${device.id}/connect`, {
    headers: { ...bearer(admin), ...UPGRADE_HEADERS },
  })
  const body = (await res.json().catch(() => ({}))) as { error?: string }
  return { status: res.status, error: body.error }
}

/** A session on `node` once one is accepted there (places are given back a round trip after a close). */
const sessionOnceAccepted = (node: Node, timeoutMs?: number) =>
  waitFor(
    'a session to be accepted',
    async () => {
      try {
        return await session(node)
      } catch {
        return undefined
      }
    },
    timeoutMs,
  )

beforeAll(async () => {
  cluster = await startInstances(2, {
    BENDER_ADMIN_EMAIL: EMAIL,
    BENDER_ADMIN_PASSWORD: PASSWORD,
    BENDER_CONNECT_SESSIONS_PER_USER: String(PER_USER),
  })
  ;[a, b] = cluster.nodes as [typeof a, typeof b]
  const login = await a.call('POST', '/api/management/v1/useradm/auth/login', {
    headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
  })
  expect(login.status).toBe(200)
  admin = login.text
  device = await acceptedDevice(a, admin)
  // The device's websocket is held by A; sessions arriving at B reach it through the relay.
  deviceWs = new Socket(wsUrl(a.url, '/api/devices/v1/deviceconnect/connect'), bearer(device.token))
  await deviceWs.opened
  await waitFor('the device to show connected on B', async () => {
    const res = await b.call('GET', `${MGMT}/devices/${device.id}`, { token: admin })
    return res.json?.status === 'connected' ? true : undefined
  })
}, 120_000)
afterAll(async () => {
  deviceWs?.close()
  await cluster?.stop()
})

describe('session limits across instances', () => {
  test('sessions opened through A and B together are refused past the limit, as on one instance', async () => {
    const open = [await session(a), await session(b), await session(b)]
    // Full: refused on both instances, with the answer one instance gives (429 before the upgrade).
    expect(await refusal(a)).toEqual({ status: 429, error: 'user has too many open sessions' })
    expect(await refusal(b)).toEqual({ status: 429, error: 'user has too many open sessions' })

    // One closed on B: a new one is accepted on A, and then the limit holds again.
    open[1]!.close()
    await open[1]!.closed
    open[1] = await sessionOnceAccepted(a, 10_000)
    expect((await refusal(b)).status).toBe(429)

    for (const ws of open) ws.close()
    await Promise.all(open.map((ws) => ws.closed))
  })

  test(`after kill -9 of an instance holding sessions, they stop counting within ${SLOT_LEASE_MS / 1000} s`, async () => {
    const open = [await sessionOnceAccepted(a, 10_000), await session(b), await session(b)]
    // Each session's id, as the device sees it.
    const sids: string[] = []
    for (const ws of open) {
      ws.send({ hdr: { proto: 1, typ: 'new' } })
      sids.push((await deviceWs.next((m) => m.hdr.typ === 'new')).msg.hdr.sid as string)
    }
    expect((await refusal(a)).status).toBe(429)

    b.proc.kill('SIGKILL')
    await b.proc.exited
    const killedAt = Date.now()
    // B's two sessions still count: B had no chance to give their places back.
    expect(await refusal(a)).toEqual({ status: 429, error: 'user has too many open sessions' })
    const fresh = await sessionOnceAccepted(a, SLOT_LEASE_MS + 10_000)
    const freedAfterMs = Date.now() - killedAt
    console.log(`B's sessions stopped counting ${freedAfterMs} ms after its kill -9`)
    // The lease, plus the polling above on a loaded machine.
    expect(freedAfterMs).toBeLessThanOrEqual(SLOT_LEASE_MS + 5_000)
    // Only B's two places went: one more on A fills the limit again.
    const second = await session(a)
    expect((await refusal(a)).status).toBe(429)

    // And B's sessions are ended in the audit list (server_stopped), A's still open.
    const ends = await waitFor(
      "B's sessions to be ended in the audit list",
      async () => {
        const res = await a.call('GET', `${MGMT}/sessions?device_id=${device.id}&per_page=100`, {
          token: admin,
        })
        const byId = new Map((res.json as { id: string; status: string }[]).map((s) => [s.id, s]))
        const statuses = sids.map((sid) => byId.get(sid)?.status)
        return statuses[1] !== 'open' && statuses[2] !== 'open' ? statuses : undefined
      },
      2 * SLOT_LEASE_MS + 10_000,
    )
    expect(ends).toEqual(['open', 'server_stopped', 'server_stopped'])

    for (const ws of [open[0]!, fresh, second]) ws.close()
  }, 120_000)
})
