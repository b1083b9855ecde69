import type { Database } from '../../../db/client.ts'
import type { DeviceStatus } from './model.ts'
import { deriveDeviceStatus } from './status.ts'
import {
  type AuthSetRow,
  createDeviceauthRows,
  type DeviceFilter,
  type DeviceRow,
  type RevocationCounter,
} from './store.rows.ts'

export type { AuthSetRow, DeviceFilter, DeviceRow, RevocationCounter, TokenRow } from './store.rows.ts'
export { createRevocationCounter } from './store.rows.ts'

/** A device's key as an auth request or a preauthorization brings it. */
export type DeviceKey = { hash: string; normalised: string; pem: string }

/** What a write needs that the store does not decide: the time, new ids, the limits. */
export type WriteContext = {
  now: Date
  newId: () => string
  /** Most devices accepted at once; 0 for no limit. */
  maxAccepted: number
}

/** The status the device moved to when a write changed it (its inventory copy must follow). */
type StatusChange = { status?: DeviceStatus }

/** What recording an auth request did. */
export type AuthRequestOutcome =
  /** A device seen for the first time: pending, with this key. */
  | { kind: 'new-device'; device: DeviceRow }
  /** A known device with a new key: a new pending auth set. */
  | ({ kind: 'new-key'; device: DeviceRow } & StatusChange)
  /** The key is accepted (or its preauthorization was accepted now): a token was recorded. */
  | ({ kind: 'token'; device: DeviceRow; authSetId: string; expires: Date; accepted: boolean } & StatusChange)
  /** A preauthorized device that would exceed the accepted-device limit: nothing was written. */
  | { kind: 'over-limit' }
  /** The key is pending or rejected. */
  | { kind: 'refused' }

/** What a preauthorization did. */
export type PreauthorizeOutcome =
  | { kind: 'exists'; device: DeviceRow }
  | ({ kind: 'preauthorized'; device: DeviceRow; created: boolean } & StatusChange)

/** What setting an auth set's status did. */
export type SetStatusOutcome =
  | { kind: 'missing-auth-set' | 'mismatch' | 'missing-device' | 'not-allowed' | 'over-limit' | 'unchanged' }
  | ({ kind: 'set' } & StatusChange)

/** What deleting an auth set did. */
export type DeleteAuthSetOutcome =
  | { kind: 'missing-auth-set' | 'missing-device' }
  | { kind: 'device-removed' }
  | ({ kind: 'deleted' } & StatusChange)

/**
 * Devices, their auth sets and tokens. Each method is one atomic change (with the events it
 * raises in the outbox); what it decides inside (the pending-key cap, the accepted-device limit,
 * the device status derived from its auth sets) is decided on what it read in that transaction.
 */
export interface DeviceauthStore {
  /** The device with this id, if any. */
  findDeviceById(tenantId: string, id: string): Promise<DeviceRow | undefined>
  /** The device holding this identity (by the hash of its normalised identity), if any. */
  findDeviceByIdentityHash(tenantId: string, hash: string): Promise<DeviceRow | undefined>
  /** A page of devices sorted by status then id; `limit` is one more than the page to learn if more exist. */
  listDevices(tenantId: string, filter: DeviceFilter, offset: number, limit: number): Promise<DeviceRow[]>
  /** How many devices have `status` (all when undefined). */
  countDevices(tenantId: string, status?: DeviceStatus): Promise<number>
  /** The auth sets of these devices, oldest first. */
  listAuthSets(tenantId: string, deviceIds: readonly string[]): Promise<AuthSetRow[]>
  /** One auth set by id, if any. */
  findAuthSetById(tenantId: string, id: string): Promise<AuthSetRow | undefined>
  /** The device a live token (by its jti) belongs to, if the token is still there. */
  findTokenById(tenantId: string, id: string): Promise<{ deviceId: string } | undefined>
  /**
   * Records a device's auth request: a new device (pending), a new key of a known device (pending;
   * past `maxPending` keys the oldest pending go), or, for an accepted key or a preauthorized one
   * that fits the limit (then accepted now), the token (expiring at `expires`) and a check-in.
   */
  recordAuthRequest(
    tenantId: string,
    key: DeviceKey,
    context: WriteContext & { maxPending: number; expires: Date },
  ): Promise<AuthRequestOutcome>
  /** Preauthorizes a key: a new device, or with `force` a known one (its key added or preauthorized again). */
  preauthorize(
    tenantId: string,
    key: DeviceKey,
    force: boolean,
    context: WriteContext,
  ): Promise<PreauthorizeOutcome>
  /**
   * Moves an auth set to `status`; accepting one rejects the device's other accepted one and must
   * fit the limit. `allowed` says which moves are allowed.
   */
  setAuthSetStatus(
    tenantId: string,
    deviceId: string,
    id: string,
    status: DeviceStatus,
    context: WriteContext & { allowed: (from: DeviceStatus, to: DeviceStatus) => boolean },
  ): Promise<SetStatusOutcome>
  /** Deletes an auth set; a device left without any after its preauthorization went is deleted too. */
  deleteAuthSet(tenantId: string, deviceId: string, id: string, now: Date): Promise<DeleteAuthSetOutcome>
  /** Deletes the device, its auth sets and tokens, with a `device-decommissioned` event; false when unknown. */
  decommission(tenantId: string, id: string): Promise<boolean>
  /** Deletes a token; false when there was none. */
  deleteToken(tenantId: string, id: string): Promise<boolean>
}

export function createDeviceauthStore(db: Database, revocations: RevocationCounter): DeviceauthStore {
  // Long as a whole: one closure over the prepared statements its methods share; each method is short.
  const rows = createDeviceauthRows(db, revocations)
  const canAccept = (tenantId: string, max: number) =>
    max === 0 || rows.countDevices(tenantId, 'accepted') < max

  /** Rewrites the device's status from its auth sets; answers the new status when it changed. */
  function refresh(device: DeviceRow, now: Date): StatusChange {
    const status = deriveDeviceStatus(rows.authSetStatuses(device.tenantId, device.id))
    if (status === device.status) return {}
    rows.setDeviceStatus(device.tenantId, device.id, status, now)
    return { status }
  }

  /** Accepts one auth set; the device's other accepted one (at most one) becomes rejected. */
  function accept(device: DeviceRow, authSetId: string, now: Date): StatusChange {
    rows.rejectOtherAcceptedAuthSets(device.tenantId, device.id, authSetId)
    rows.setAuthSetStatus(device.tenantId, authSetId, 'accepted')
    return refresh(device, now)
  }

  function insertDevice(tenantId: string, key: DeviceKey, status: DeviceStatus, context: WriteContext) {
    const { now, newId } = context
    const device: DeviceRow = {
      ...{ id: newId(), tenantId, identity: key.normalised, identityHash: key.hash, status },
      ...{ createdTs: now, updatedTs: now, checkInTs: null },
    }
    rows.insertDevice(device)
    rows.insertAuthSet({
      id: newId(),
      tenantId,
      deviceId: device.id,
      pubkey: key.pem,
      status,
      createdTs: now,
    })
    return device
  }

  /** A known identity with a new key (key rotation); past the cap the oldest pending auth sets make room. */
  function addPendingKey(device: DeviceRow, pem: string, maxPending: number, context: WriteContext) {
    const { tenantId, id } = device
    const pending = rows.listAuthSets(tenantId, [id]).filter((set) => set.status === 'pending')
    for (const old of pending.slice(0, Math.max(0, pending.length - maxPending + 1))) {
      rows.deleteAuthSet(tenantId, old.id)
    }
    const authSet = { id: context.newId(), tenantId, deviceId: id, pubkey: pem, createdTs: context.now }
    rows.insertAuthSet({ ...authSet, status: 'pending' })
    return refresh(device, context.now)
  }

  return {
    findDeviceById: async (tenantId, id) => rows.findDeviceById(tenantId, id),
    findDeviceByIdentityHash: async (tenantId, hash) => rows.findDeviceByIdentityHash(tenantId, hash),
    listDevices: async (tenantId, filter, offset, limit) => rows.listDevices(tenantId, filter, offset, limit),
    countDevices: async (tenantId, status) => rows.countDevices(tenantId, status),
    listAuthSets: async (tenantId, deviceIds) => rows.listAuthSets(tenantId, deviceIds),
    findAuthSetById: async (tenantId, id) => rows.findAuthSetById(tenantId, id),
    findTokenById: async (tenantId, id) => rows.findTokenById(tenantId, id),

    recordAuthRequest: async (tenantId, key, context) =>
      db.transaction((): AuthRequestOutcome => {
        const device = rows.findDeviceByIdentityHash(tenantId, key.hash)
        if (!device) return { kind: 'new-device', device: insertDevice(tenantId, key, 'pending', context) }
        const authSet = rows.findAuthSetByKey(tenantId, device.id, key.pem)
        if (!authSet) {
          return { kind: 'new-key', device, ...addPendingKey(device, key.pem, context.maxPending, context) }
        }
        let change: StatusChange = {}
        const accepted = authSet.status === 'preauthorized'
        if (accepted) {
          if (device.status !== 'accepted' && !canAccept(tenantId, context.maxAccepted)) {
            return { kind: 'over-limit' }
          }
          change = accept(device, authSet.id, context.now)
        } else if (authSet.status !== 'accepted') return { kind: 'refused' }
        const { now, expires } = context
        rows.upsertToken({
          id: authSet.id,
          tenantId,
          deviceId: device.id,
          expiresTs: expires,
          createdTs: now,
        })
        return { kind: 'token', device, authSetId: authSet.id, expires, accepted, ...change }
      }),

    preauthorize: async (tenantId, key, force, context) =>
      db.transaction((): PreauthorizeOutcome => {
        const existing = rows.findDeviceByIdentityHash(tenantId, key.hash)
        if (!existing) {
          const device = insertDevice(tenantId, key, 'preauthorized', context)
          return { kind: 'preauthorized', device, created: true }
        }
        if (!force) return { kind: 'exists', device: existing }
        const authSet = rows.findAuthSetByKey(tenantId, existing.id, key.pem)
        if (authSet) rows.setAuthSetStatus(tenantId, authSet.id, 'preauthorized')
        else {
          rows.insertAuthSet({
            ...{ id: context.newId(), tenantId, deviceId: existing.id, pubkey: key.pem },
            ...{ status: 'preauthorized', createdTs: context.now },
          })
        }
        return { kind: 'preauthorized', device: existing, created: false, ...refresh(existing, context.now) }
      }),

    setAuthSetStatus: async (tenantId, deviceId, id, status, context) =>
      db.transaction((): SetStatusOutcome => {
        const authSet = rows.findAuthSetById(tenantId, id)
        if (!authSet) return { kind: 'missing-auth-set' }
        if (authSet.deviceId !== deviceId) return { kind: 'mismatch' }
        if (authSet.status === status) return { kind: 'unchanged' }
        if (!context.allowed(authSet.status, status)) return { kind: 'not-allowed' }
        const device = rows.findDeviceById(tenantId, deviceId)
        if (!device) return { kind: 'missing-device' }
        if (status === 'accepted') {
          if (device.status !== 'accepted' && !canAccept(tenantId, context.maxAccepted)) {
            return { kind: 'over-limit' }
          }
          return { kind: 'set', ...accept(device, id, context.now) }
        }
        rows.setAuthSetStatus(tenantId, id, status)
        return { kind: 'set', ...refresh(device, context.now) }
      }),

    deleteAuthSet: async (tenantId, deviceId, id, now) =>
      db.transaction((): DeleteAuthSetOutcome => {
        const authSet = rows.findAuthSetById(tenantId, id)
        if (!authSet || authSet.deviceId !== deviceId) return { kind: 'missing-auth-set' }
        const device = rows.findDeviceById(tenantId, deviceId)
        if (!device) return { kind: 'missing-device' }
        rows.deleteAuthSet(tenantId, id)
        if (authSet.status === 'preauthorized' && rows.authSetStatuses(tenantId, deviceId).length === 0) {
          rows.deleteDevice(tenantId, deviceId)
          return { kind: 'device-removed' }
        }
        return { kind: 'deleted', ...refresh(device, now) }
      }),

    decommission: async (tenantId, id) => db.transaction(() => rows.deleteDevice(tenantId, id)),

    deleteToken: async (tenantId, id) => rows.deleteToken(tenantId, id),
  }
}
