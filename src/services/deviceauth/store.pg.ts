import { sql } from 'drizzle-orm'
import type { PgDatabase } from '../../../db/pg.ts'
import { pgOutboxFor } from '../../events/outbox.pg.ts'
import type { DeviceStatus } from './model.ts'
import { deriveDeviceStatus } from './status.ts'
import { syncRevocations } from './store.revocations.pg.ts'
import { createPgDeviceauthRows, type PgWrite } from './store.rows.pg.ts'
import type {
  AuthRequestOutcome,
  DeleteAuthSetOutcome,
  DeviceauthStore,
  DeviceKey,
  DeviceRow,
  PreauthorizeOutcome,
  RevocationCounter,
  SetStatusOutcome,
  WriteContext,
} from './store.ts'

type StatusChange = { status?: DeviceStatus }

/** The class of deviceauth's per-tenant advisory locks ("da" in ASCII); the tenant's hash is the key. */
const TENANT_LOCK_CLASS = 0x6461

/**
 * deviceauth's store on PostgreSQL (see store.ts for what each method promises). A write that
 * decides on what it read (the pending-key cap, the accepted-device limit, a new identity) first
 * takes its tenant's transaction-scoped advisory lock: instances sharing the database then decide
 * one at a time, as SQLite's single writer does. The revocation count becomes shared: the store
 * bumps a row in the revoking transaction and installs `revocations.sync`, which reads it.
 */
export function createPgDeviceauthStore(db: PgDatabase, revocations: RevocationCounter): DeviceauthStore {
  // Long as a whole: one closure over the row operations its methods share; each method is short.
  const rows = createPgDeviceauthRows(db)
  const outbox = pgOutboxFor(db)
  revocations.sync = syncRevocations(db, revocations)

  /** Runs `change` as one transaction of `tenantId`'s writes; the events go last, the count after commit. */
  async function write<T>(tenantId: string, change: (w: PgWrite) => Promise<T>): Promise<T> {
    let counted: number | undefined
    const result = await db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${TENANT_LOCK_CLASS}, hashtext(${tenantId}))`)
      const w: PgWrite = { tx, events: [], revoked: false }
      const answer = await change(w)
      if (w.revoked) counted = await rows.countRevocation(tx)
      for (const event of w.events) await outbox.append(tx, event)
      return answer
    })
    if (counted !== undefined) revocations.value = Math.max(revocations.value, counted)
    return result
  }

  const canAccept = async (w: PgWrite, tenantId: string, max: number) =>
    max === 0 || (await rows.countDevices(w.tx, tenantId, 'accepted')) < max

  /** Rewrites the device's status from its auth sets; answers the new status when it changed. */
  async function refresh(w: PgWrite, device: DeviceRow, now: Date): Promise<StatusChange> {
    const status = deriveDeviceStatus(await rows.authSetStatuses(w.tx, device.tenantId, device.id))
    if (status === device.status) return {}
    await rows.setDeviceStatus(w, device.tenantId, device.id, status, now)
    return { status }
  }

  /** Accepts one auth set; the device's other accepted one (at most one) becomes rejected. */
  async function accept(w: PgWrite, device: DeviceRow, authSetId: string, now: Date): Promise<StatusChange> {
    await rows.rejectOtherAcceptedAuthSets(w, device.tenantId, device.id, authSetId)
    await rows.setAuthSetStatus(w, device.tenantId, authSetId, 'accepted')
    return refresh(w, device, now)
  }

  async function insertDevice(
    w: PgWrite,
    tenantId: string,
    key: DeviceKey,
    status: DeviceStatus,
    context: WriteContext,
  ) {
    const { now, newId } = context
    const device: DeviceRow = {
      ...{ id: newId(), tenantId, identity: key.normalised, identityHash: key.hash, status },
      ...{ createdTs: now, updatedTs: now, checkInTs: null },
    }
    await rows.insertDevice(w, device)
    const authSet = { id: newId(), tenantId, deviceId: device.id, pubkey: key.pem, status, createdTs: now }
    await rows.insertAuthSet(w, authSet)
    return device
  }

  /** A known identity with a new key (key rotation); past the cap the oldest pending auth sets make room. */
  async function addPendingKey(
    w: PgWrite,
    device: DeviceRow,
    pem: string,
    maxPending: number,
    context: WriteContext,
  ) {
    const { tenantId, id } = device
    const pending = (await rows.listAuthSets(w.tx, tenantId, [id])).filter((set) => set.status === 'pending')
    for (const old of pending.slice(0, Math.max(0, pending.length - maxPending + 1))) {
      await rows.deleteAuthSet(w, tenantId, old.id)
    }
    const authSet = { id: context.newId(), tenantId, deviceId: id, pubkey: pem, createdTs: context.now }
    await rows.insertAuthSet(w, { ...authSet, status: 'pending' })
    return refresh(w, device, context.now)
  }

  return {
    findDeviceById: (tenantId, id) => rows.findDeviceById(db, tenantId, id),
    findDeviceByIdentityHash: (tenantId, hash) => rows.findDeviceByIdentityHash(db, tenantId, hash),
    listDevices: (tenantId, filter, offset, limit) => rows.listDevices(db, tenantId, filter, offset, limit),
    countDevices: (tenantId, status) => rows.countDevices(db, tenantId, status),
    listAuthSets: (tenantId, deviceIds) => rows.listAuthSets(db, tenantId, deviceIds),
    findAuthSetById: (tenantId, id) => rows.findAuthSetById(db, tenantId, id),
    findTokenById: (tenantId, id) => rows.findTokenById(tenantId, id),

    recordAuthRequest: (tenantId, key, context) =>
      write(tenantId, async (w): Promise<AuthRequestOutcome> => {
        const device = await rows.findDeviceByIdentityHash(w.tx, tenantId, key.hash)
        if (!device) {
          return { kind: 'new-device', device: await insertDevice(w, tenantId, key, 'pending', context) }
        }
        const authSet = await rows.findAuthSetByKey(w.tx, tenantId, device.id, key.pem)
        if (!authSet) {
          const change = await addPendingKey(w, device, key.pem, context.maxPending, context)
          return { kind: 'new-key', device, ...change }
        }
        let change: StatusChange = {}
        const accepted = authSet.status === 'preauthorized'
        if (accepted) {
          if (device.status !== 'accepted' && !(await canAccept(w, tenantId, context.maxAccepted))) {
            return { kind: 'over-limit' }
          }
          change = await accept(w, device, authSet.id, context.now)
        } else if (authSet.status !== 'accepted') return { kind: 'refused' }
        const { now, expires } = context
        const token = { id: authSet.id, tenantId, deviceId: device.id, expiresTs: expires, createdTs: now }
        await rows.upsertToken(w, token)
        return { kind: 'token', device, authSetId: authSet.id, expires, accepted, ...change }
      }),

    preauthorize: (tenantId, key, force, context) =>
      write(tenantId, async (w): Promise<PreauthorizeOutcome> => {
        const existing = await rows.findDeviceByIdentityHash(w.tx, tenantId, key.hash)
        if (!existing) {
          const device = await insertDevice(w, tenantId, key, 'preauthorized', context)
          return { kind: 'preauthorized', device, created: true }
        }
        if (!force) return { kind: 'exists', device: existing }
        const authSet = await rows.findAuthSetByKey(w.tx, tenantId, existing.id, key.pem)
        if (authSet) await rows.setAuthSetStatus(w, tenantId, authSet.id, 'preauthorized')
        else {
          await rows.insertAuthSet(w, {
            ...{ id: context.newId(), tenantId, deviceId: existing.id, pubkey: key.pem },
            ...{ status: 'preauthorized', createdTs: context.now },
          })
        }
        const change = await refresh(w, existing, context.now)
        return { kind: 'preauthorized', device: existing, created: false, ...change }
      }),

    setAuthSetStatus: (tenantId, deviceId, id, status, context) =>
      write(tenantId, async (w): Promise<SetStatusOutcome> => {
        const authSet = await rows.findAuthSetById(w.tx, tenantId, id)
        if (!authSet) return { kind: 'missing-auth-set' }
        if (authSet.deviceId !== deviceId) return { kind: 'mismatch' }
        if (authSet.status === status) return { kind: 'unchanged' }
        if (!context.allowed(authSet.status, status)) return { kind: 'not-allowed' }
        const device = await rows.findDeviceById(w.tx, tenantId, deviceId)
        if (!device) return { kind: 'missing-device' }
        if (status === 'accepted') {
          if (device.status !== 'accepted' && !(await canAccept(w, tenantId, context.maxAccepted))) {
            return { kind: 'over-limit' }
          }
          return { kind: 'set', ...(await accept(w, device, id, context.now)) }
        }
        await rows.setAuthSetStatus(w, tenantId, id, status)
        return { kind: 'set', ...(await refresh(w, device, context.now)) }
      }),

    deleteAuthSet: (tenantId, deviceId, id, now) =>
      write(tenantId, async (w): Promise<DeleteAuthSetOutcome> => {
        const authSet = await rows.findAuthSetById(w.tx, tenantId, id)
        if (!authSet || authSet.deviceId !== deviceId) return { kind: 'missing-auth-set' }
        const device = await rows.findDeviceById(w.tx, tenantId, deviceId)
        if (!device) return { kind: 'missing-device' }
        await rows.deleteAuthSet(w, tenantId, id)
        const left = await rows.authSetStatuses(w.tx, tenantId, deviceId)
        if (authSet.status === 'preauthorized' && left.length === 0) {
          await rows.deleteDevice(w, tenantId, deviceId)
          return { kind: 'device-removed' }
        }
        return { kind: 'deleted', ...(await refresh(w, device, now)) }
      }),

    decommission: (tenantId, id) => write(tenantId, (w) => rows.deleteDevice(w, tenantId, id)),

    deleteToken: (tenantId, id) => write(tenantId, (w) => rows.deleteToken(w, tenantId, id)),
  }
}
