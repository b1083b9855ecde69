import { afterEach, expect, test } from 'bun:test'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { systemClock } from '../../src/clock.ts'
import { createPgDeviceHolders, createPgRelay } from '../../src/cluster/relay.pg.ts'
import type { Relay } from '../../src/cluster/relay.ts'
import { loadConfig } from '../../src/config.ts'
import type { Deps } from '../../src/deps.ts'
import type { DevicePrincipal } from '../../src/gateway/auth.ts'
import { randomIds } from '../../src/ids.ts'
import { createLogger } from '../../src/log.ts'
import type { DeviceLink, Peer } from '../../src/services/deviceconnect/hub.ts'
import {
  decodeMessage,
  encodeMessage,
  message,
  PROTO_MENDER_CLIENT,
  PROTO_SHELL,
  type ProtoMsg,
} from '../../src/services/deviceconnect/protocol.ts'
import {
  createDeviceconnectService,
  type DeviceconnectService,
} from '../../src/services/deviceconnect/service.ts'
import { createPgDeviceconnectStore } from '../../src/services/deviceconnect/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'

/**
 * Two instances of deviceconnect on one PostgreSQL database, each with its own pool and relay:
 * a device's websocket is held by one, a user's session arrives at the other.
 */

const log = createLogger('error')
const DEVICE: DevicePrincipal = { tenantId: 't1', deviceId: 'dev-1', authSetId: 'auth-1' }
const USER = { tenantId: 't1', userId: 'user-1' }
const revoked = new Set<string>()
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  revoked.clear()
})

type Instance = { svc: DeviceconnectService; relay: Relay; db: PgDatabase }

async function instance(url: string): Promise<Instance> {
  const db = await openPgDatabase(url)
  const relay = await createPgRelay(db, log)
  const deps = { config: loadConfig({}), clock: systemClock, ids: randomIds, log, db } as unknown as Deps
  const svc = createDeviceconnectService(
    deps,
    {
      // deviceauth's answer, decided by the test: whether the device's token still holds.
      deviceTokens: { isLive: (device) => !revoked.has(device.deviceId) },
      relay: { relay, holders: createPgDeviceHolders(db) },
    },
    createPgDeviceconnectStore(db),
  )
  cleanups.push(async () => {
    svc.stop()
    await relay.close()
    await db.$client.close()
  })
  return { svc, relay, db }
}

/** A websocket end that keeps what it is sent, decoded, and whether it was closed. */
function peer() {
  const got: ProtoMsg[] = []
  let closed: { code?: number; reason?: string } | undefined
  const p: Peer = {
    send: (data) => void got.push(decodeMessage(data)),
    close: (code, reason) => {
      closed = { code, reason }
    },
  }
  return { peer: p, got, closed: () => closed }
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await Bun.sleep(5)
}

/** Two instances, the device connected to `a` (and recorded as held by it). */
async function setUp() {
  const { url, close } = await openTestPgDatabase()
  cleanups.push(close)
  const a = await instance(url)
  const b = await instance(url)
  const device = peer()
  const link = a.svc.connectDevice(DEVICE, device.peer) as DeviceLink
  const holders = createPgDeviceHolders(a.db)
  await until(async () => (await holders.holder(DEVICE.tenantId, DEVICE.deviceId)) === a.relay.instanceId)
  return { a, b, device, link }
}

const shell = (typ: string, sid: string, text: string) =>
  encodeMessage(message({ proto: PROTO_SHELL, typ, sid, body: new TextEncoder().encode(text) }))
const text = (msg: ProtoMsg) => new TextDecoder().decode(msg.body)

test('a terminal opened on one instance reaches the device held by the other, both ways, in order', async () => {
  const { a, b, device, link } = await setUp()
  const user = peer()
  await b.svc.reserveSession(USER, DEVICE.deviceId)
  const session = b.svc.openSession(USER, DEVICE.deviceId, user.peer)
  session.fromUser(shell('new', '', ''))
  for (let i = 0; i < 50; i++) session.fromUser(shell('shell', '', `in-${i}`))
  await until(() => device.got.length === 51)
  expect(device.got.map((m) => m.sid)).toEqual(Array(51).fill(session.id))
  expect(device.got.slice(1).map(text)).toEqual(Array.from({ length: 50 }, (_, i) => `in-${i}`))
  expect(device.got[0]!.props.user_id).toBe(USER.userId)

  for (let i = 0; i < 50; i++) a.svc.deviceMessage(link, shell('shell', session.id, `out-${i}`))
  await until(() => user.got.length === 50)
  expect(user.got.map(text)).toEqual(Array.from({ length: 50 }, (_, i) => `out-${i}`))

  // The user leaves: the device is told to stop the shell, and the holder forgets the session.
  session.userClosed()
  await until(() => device.got.at(-1)?.typ === 'stop')
  await until(() => link.routes.size === 0)
})

test('when the device’s connection ends on its instance, the session on the other one ends', async () => {
  const { a, b, link } = await setUp()
  const user = peer()
  await b.svc.reserveSession(USER, DEVICE.deviceId)
  b.svc.openSession(USER, DEVICE.deviceId, user.peer)
  await until(() => link.routes.size === 1)
  await a.svc.deviceClosed(link)
  await until(() => user.closed() !== undefined)
  // And it is no longer found from the other instance.
  await expect(b.svc.reserveSession(USER, DEVICE.deviceId)).rejects.toThrow('device disconnected')
})

test('a device whose token was revoked is refused from the other instance, and its connection ends', async () => {
  const { b, device } = await setUp()
  revoked.add(DEVICE.deviceId)
  await expect(b.svc.reserveSession(USER, DEVICE.deviceId)).rejects.toThrow('device disconnected')
  expect(device.closed()?.code).toBe(1008)
})

test('a command and a decommission from the other instance reach the device', async () => {
  const { b, device } = await setUp()
  await b.svc.sendClientCommand(DEVICE.tenantId, DEVICE.deviceId, 'check-update', USER.userId)
  await until(() => device.got.length === 1)
  expect(device.got[0]).toMatchObject({ proto: PROTO_MENDER_CLIENT, typ: 'check-update' })
  await b.svc.removeDevice(DEVICE.tenantId, DEVICE.deviceId)
  await until(() => device.closed() !== undefined)
  expect(device.closed()).toEqual({ code: 1000, reason: 'device decommissioned' })
})

test('a device recorded as held by an instance that no longer answers counts as disconnected', async () => {
  const { a, b } = await setUp()
  // The holder is gone without clearing its records (as after kill -9): nobody listens any more.
  await a.relay.close()
  await expect(b.svc.reserveSession(USER, DEVICE.deviceId)).rejects.toThrow('device disconnected')
})
