import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { loadConfig } from '../../src/config.ts'
import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { createAuthResolver } from '../../src/gateway/auth.ts'
import { UnauthorizedError } from '../../src/gateway/errors.ts'
import { createDeviceAuthenticator } from '../../src/services/deviceauth/authenticator.ts'
import { createCheckInBuffer } from '../../src/services/deviceauth/checkins.ts'
import { withSharedRevocations } from '../../src/services/deviceauth/revocations.ts'
import { isAllowedTransition } from '../../src/services/deviceauth/status.ts'
import { createPgDeviceauthStore } from '../../src/services/deviceauth/store.pg.ts'
import { createRevocationCounter, type DeviceauthStore } from '../../src/services/deviceauth/store.ts'
import { STATUS_CODES } from '../../src/services/inventory/model.ts'
import { createPgInventoryStore } from '../../src/services/inventory/store.pg.ts'
import { createTokens } from '../../src/tokens.ts'
import { TestClock } from '../helpers/app.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { deviceauthStoreContract } from './store.contract.ts'

deviceauthStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  const revocations = createRevocationCounter()
  return {
    store: createPgDeviceauthStore(db, revocations),
    revocations,
    events: createPgEventsStore(db),
    close,
  }
})

/** One bender instance's deviceauth on the shared database: its own pool, store and device guard. */
function instance(db: PgDatabase, dataDir: string) {
  const clock = new TestClock()
  const revocations = createRevocationCounter()
  const store = createPgDeviceauthStore(db, revocations)
  const tokens = createTokens(loadConfig({ BENDER_DATA_DIR: dataDir }), clock)
  // Check-ins are written to inventory (see deviceauth's service.ts).
  const inventory = createPgInventoryStore(db)
  const checkIns = createCheckInBuffer((batch) => inventory.writeCheckIns(batch), 60_000)
  const guard = withSharedRevocations(
    createDeviceAuthenticator({ store, revocations, tokens, clock, checkIns, cacheBytes: 16 * 1024 * 1024 }),
    revocations,
  )
  // The gateway's own resolver: it caches each verified token, so a check reads no token row
  // while the revocation count stays put.
  const resolver = createAuthResolver(guard, 'DeviceJWT', 100, () => clock.now().getTime())
  return { store, inventory, tokens, resolver }
}

describe('two instances on one PostgreSQL database', () => {
  let dataDir: string
  let closeA: () => Promise<void>
  let poolB: PgDatabase
  let a: ReturnType<typeof instance>
  let b: ReturnType<typeof instance>
  beforeAll(async () => {
    const opened = await openTestPgDatabase()
    closeA = opened.close
    poolB = await openPgDatabase(opened.url)
    dataDir = mkdtempSync(join(tmpdir(), 'bender-pgauth-'))
    // One data dir: both instances sign and verify with the same key, as a fleet must.
    a = instance(opened.db, dataDir)
    b = instance(poolB, dataDir)
  })
  afterAll(async () => {
    await poolB.$client.close()
    await closeA()
    rmSync(dataDir, { recursive: true, force: true })
  })

  let serial = 0
  const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, ++serial))
  const context = () => ({ now: at(), newId: () => crypto.randomUUID(), maxAccepted: 0 })
  const request = () => ({ ...context(), maxPending: 10, expires: new Date(Date.UTC(2030, 0, 1)) })

  /** An accepted device with a token, made through `store`; answers what its requests carry. */
  async function acceptedDevice(store: DeviceauthStore) {
    const key = { hash: crypto.randomUUID(), normalised: `{"mac":"${++serial}"}`, pem: `key-${serial}` }
    const made = await store.recordAuthRequest('', key, request())
    if (made.kind !== 'new-device') throw new Error(made.kind)
    const [authSet] = await store.listAuthSets('', [made.device.id])
    const statusContext = { ...context(), allowed: isAllowedTransition }
    await store.setAuthSetStatus('', made.device.id, authSet!.id, 'accepted', statusContext)
    const issued = await store.recordAuthRequest('', key, request())
    if (issued.kind !== 'token') throw new Error(issued.kind)
    const claims = { sub: made.device.id, jti: authSet!.id, iss: 'Mender', 'mender.device': true }
    const token = await a.tokens.sign({ ...claims, exp: Math.floor(Date.UTC(2030, 0, 1) / 1000) })
    return { device: made.device, authSetId: authSet!.id, token }
  }

  /** What instance `at` answers for a request carrying `token`, as its gateway asks. */
  async function admitted(on: ReturnType<typeof instance>, token: string): Promise<boolean> {
    try {
      await on.resolver.resolve(token)
      return true
    } catch (err) {
      if (err instanceof UnauthorizedError) return false
      throw err
    }
  }

  test('a token taken away on A is refused by B at its next request, whatever took it', async () => {
    const revokers: ((d: Awaited<ReturnType<typeof acceptedDevice>>) => Promise<unknown>)[] = [
      (d) => a.store.deleteToken('', d.authSetId),
      (d) => a.store.decommission('', d.device.id),
      (d) => a.store.deleteAuthSet('', d.device.id, d.authSetId, at()),
      (d) =>
        a.store.setAuthSetStatus('', d.device.id, d.authSetId, 'rejected', {
          ...context(),
          allowed: isAllowedTransition,
        }),
    ]
    for (const revoke of revokers) {
      const device = await acceptedDevice(a.store)
      // B has seen the token live (its cache now trusts it while the count stays put).
      expect(await admitted(b, device.token)).toBe(true)
      expect(await admitted(b, device.token)).toBe(true)
      await revoke(device)
      expect(await admitted(b, device.token)).toBe(false)
      expect(await admitted(a, device.token)).toBe(false)
    }
  })

  test('concurrent checks on B share reads and still see a revocation committed before them', async () => {
    const devices = await Promise.all([1, 2, 3].map(() => acceptedDevice(a.store)))
    for (const d of devices) expect(await admitted(b, d.token)).toBe(true)
    const before = await Promise.all(devices.flatMap((d) => [admitted(b, d.token), admitted(b, d.token)]))
    expect(before.every(Boolean)).toBe(true)
    await a.store.deleteToken('', devices[1]!.authSetId)
    const after = await Promise.all(devices.flatMap((d) => [admitted(b, d.token), admitted(b, d.token)]))
    expect(after).toEqual([true, true, false, false, true, true])
  })

  test('the same new identity arriving at both instances at once makes one device', async () => {
    const key = { hash: crypto.randomUUID(), normalised: '{"mac":"twice"}', pem: 'twice' }
    const outcomes = await Promise.all([
      a.store.recordAuthRequest('', key, request()),
      b.store.recordAuthRequest('', key, request()),
    ])
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['new-device', 'refused'])
    expect(
      await a.store.listAuthSets('', [(await a.store.findDeviceByIdentityHash('', key.hash))!.id]),
    ).toHaveLength(1)
  })

  test('check-ins flushed late by one instance never move a device’s time back', async () => {
    const { device } = await acceptedDevice(a.store)
    await a.inventory.writeIdentity('', device.id, [], STATUS_CODES.accepted, new Date())
    const later = new Date(Date.UTC(2029, 0, 1))
    await b.inventory.writeCheckIns([{ tenantId: '', deviceId: device.id, at: later }])
    await a.inventory.writeCheckIns([
      { tenantId: '', deviceId: device.id, at: new Date(Date.UTC(2028, 0, 1)) },
    ])
    expect((await a.inventory.checkInTimes('', [device.id])).get(device.id)).toEqual(later)
  })
})
