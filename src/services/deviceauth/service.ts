import type { Deps } from '../../deps.ts'
import type { Authenticator, DevicePrincipal } from '../../gateway/auth.ts'
import {
  BadRequestError,
  NotFoundError,
  UnauthorizedError,
  UnprocessableError,
} from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import type { Claims } from '../../tokens.ts'
import type { InventoryService } from '../inventory/service.ts'
import { createDeviceAuthenticator } from './authenticator.ts'
import { type CheckIn, createCheckInBuffer } from './checkins.ts'
import { identityHash } from './identity.ts'
import type { ApiDevice, DeviceStatus } from './model.ts'
import { toApiDevice } from './render.ts'
import {
  type AuthRequest,
  checkAuthRequest,
  checkPreauthorization,
  checkStatusFilter,
  type PreauthorizationInput,
} from './requests.ts'
import { deriveDeviceStatus, isAllowedTransition, SETTABLE_STATUSES } from './status.ts'
import { type AuthSetRow, createDeviceauthStore, type DeviceFilter, type DeviceRow } from './store.ts'

const DEVICE_TOKEN_ISSUER = 'Mender'
/** Claims Mender puts in every device token; bender has no plans or add-ons to withhold. */
const DEVICE_PLAN = 'enterprise'
const DEVICE_ADDONS = [
  { name: 'configure', enabled: true },
  { name: 'troubleshoot', enabled: true },
  { name: 'monitor', enabled: true },
]
/** Go's zero time.Time as Unix seconds: Mender's device tokens carry it as `nbf`. */
const ZERO_TIME_UNIX = -62135596800
/**
 * Pending auth sets one device may hold: key rotation needs one or two, and anyone who knows an
 * identity can send fresh keys for it, so the oldest pending one goes when another arrives.
 */
export const MAX_PENDING_AUTH_SETS = 10
/** How long a check-in may wait in memory before it is written. */
const CHECK_IN_FLUSH_MS = 5000

/**
 * What deviceauth needs from inventory: the `identity` scope of each device, including its status.
 * Synchronous on the same database, so these calls join deviceauth's transactions.
 */
export type DeviceauthInventory = Pick<
  InventoryService,
  'upsertIdentity' | 'setIdentityStatus' | 'removeDevice' | 'writeCheckIns'
>

/**
 * What deviceauth tells deployments when a device is decommissioned: its active and future device
 * deployments become `decommissioned`. Called inside the decommission transaction, so it must be
 * synchronous and must not touch the blob store.
 */
export type DeviceauthDeployments = { markDeviceDecommissioned(tenantId: string, deviceId: string): void }

/**
 * Workflows other services run on a device's life (deviceconnect's provision and decommission).
 * Called after the change is committed; they must not throw, and what they do may finish later.
 */
export type DeviceauthWorkflows = {
  deviceAccepted(tenantId: string, deviceId: string): Promise<void>
  deviceRemoved(tenantId: string, deviceId: string): Promise<void>
}

/** The outcome of a preauthorization: the device it created or extended, or the one already holding the identity. */
export type Preauthorization = { created: true; deviceId: string } | { created: false; existing: ApiDevice }

/** Devices' identities, their auth sets (keys) and tokens: who may talk to the server. */
export interface DeviceauthService {
  /**
   * The `device` guard: signature and claims once per token (then cached), the token row again
   * whenever a device token may have been taken away since it was last found; a live request is
   * a check-in (at most one a minute per token), buffered and written by the periodic flush.
   */
  authenticator: Authenticator<DevicePrincipal>
  /** Writes every buffered check-in now (deviceauth's and inventory's copies). */
  flushCheckIns(): void
  /** Stops the periodic flush and writes what is still buffered; call before closing the database. */
  stop(): void
  /**
   * A device's auth request (`body` is the exact request bytes, `signature` its X-MEN-Signature).
   * Answers a signed token when the device's auth set is accepted (or preauthorized with this key);
   * otherwise records the device and key for an operator to decide on, and refuses.
   */
  submitAuthRequest(body: Uint8Array, signature: string | undefined): Promise<string>
  /** A page of devices (oldest first) with their auth sets; `hasNext` when more follow. */
  listDevices(tenantId: string, filter: DeviceFilter, paging: Paging): DeviceListing
  /** How many devices have `status` (all when undefined). */
  countDevices(tenantId: string, status: string | undefined): number
  /** One device with its auth sets; 404 when unknown. */
  getDevice(tenantId: string, id: string): ApiDevice
  /**
   * Registers an identity and key so that the device is accepted on its first auth request. An
   * identity already known is a conflict unless `force`, which adds (or re-preauthorizes) the key.
   */
  preauthorize(tenantId: string, input: PreauthorizationInput): Preauthorization
  /** Removes the device everywhere at once: its auth sets and tokens, its inventory, its deployments. */
  decommission(tenantId: string, id: string): void
  /**
   * Deletes an auth set (its token with it). A device left without auth sets stays as `noauth`,
   * unless the last one was a preauthorization: then the device itself goes.
   */
  deleteAuthSet(tenantId: string, deviceId: string, id: string): void
  /** The auth set's status; 404 when it is not the device's. */
  getAuthSetStatus(tenantId: string, deviceId: string, id: string): { status: string }
  /**
   * Moves an auth set to `status` where Mender allows it (accepting one rejects the device's other
   * accepted set; a newly accepted device must fit `max_devices`, 422); the device's status
   * follows and is mirrored to inventory.
   */
  setAuthSetStatus(tenantId: string, deviceId: string, id: string, status: string): void
  /** Revokes a device token by its `jti`: the device's next request is refused and it must authenticate again. */
  revokeToken(tenantId: string, id: string): void
  /** A limit by name; `max_devices` (the most devices accepted at once, 0 for none) is the only one. */
  limit(name: string): number
}

/** One page of devices. */
export type DeviceListing = { devices: ApiDevice[]; hasNext: boolean }

export function createDeviceauthService(
  deps: Deps,
  services: {
    inventory: DeviceauthInventory
    deployments?: DeviceauthDeployments
    workflows?: DeviceauthWorkflows
  },
): DeviceauthService {
  const store = createDeviceauthStore(deps.db)
  const { clock, ids, tokens, config, log } = deps
  const { inventory, deployments, workflows } = services
  /** Runs a workflow after the commit; its failure is logged, never the caller's. */
  const runWorkflow = (name: string, run: (() => Promise<void>) | undefined) =>
    run?.().catch((err) => log.error('device workflow failed', { workflow: name, err }))

  /** One batch of check-ins: the device's `check_in_time` here and `system/check_in_time` in inventory. */
  function writeCheckIns(batch: CheckIn[]): void {
    store.transaction(() => {
      for (const { tenantId, deviceId, at } of batch) store.setDeviceCheckIn(tenantId, deviceId, at)
      inventory.writeCheckIns(batch)
    })
  }
  const checkIns = createCheckInBuffer(writeCheckIns, CHECK_IN_FLUSH_MS)
  checkIns.start((err) => log.error('writing device check-ins failed; will retry', { err }))

  function canAcceptDevice(tenantId: string): boolean {
    return config.maxDevices === 0 || store.countDevices(tenantId, 'accepted') < config.maxDevices
  }

  /** Rewrites the device's status from its auth sets, mirroring a change to inventory; returns the status. */
  function refreshDeviceStatus(device: DeviceRow): DeviceStatus {
    const status = deriveDeviceStatus(store.authSetStatuses(device.tenantId, device.id))
    if (status !== device.status) {
      store.setDeviceStatus(device.tenantId, device.id, status, clock.now())
      inventory.setIdentityStatus(device.tenantId, device.id, status)
    }
    return status
  }

  /** Accepts one auth set; the device's other accepted one (there is at most one) becomes rejected. */
  function acceptAuthSet(device: DeviceRow, authSet: AuthSetRow): void {
    store.rejectOtherAcceptedAuthSets(device.tenantId, device.id, authSet.id)
    store.setAuthSetStatus(device.tenantId, authSet.id, 'accepted')
    refreshDeviceStatus(device)
  }

  /** Records the token of an accepted auth set and returns its claims, in Mender's order; signing comes after the commit. */
  function issueToken(device: DeviceRow, authSet: AuthSetRow): Claims {
    const now = clock.now()
    const iat = Math.floor(now.getTime() / 1000)
    const exp = iat + config.deviceTokenTtlSeconds
    store.upsertToken({
      id: authSet.id,
      tenantId: device.tenantId,
      deviceId: device.id,
      expiresTs: new Date(exp * 1000),
      createdTs: now,
    })
    // Inside this write transaction anyway; inventory's copy follows with the next flush.
    store.setDeviceCheckIn(device.tenantId, device.id, now)
    checkIns.record(device.tenantId, device.id, now)
    return {
      jti: authSet.id,
      sub: device.id,
      iss: DEVICE_TOKEN_ISSUER,
      ...(device.tenantId ? { 'mender.tenant': device.tenantId } : {}),
      exp,
      iat,
      nbf: ZERO_TIME_UNIX,
      'mender.device': true,
      'mender.plan': DEVICE_PLAN,
      'mender.trial': false,
      'mender.addons': DEVICE_ADDONS,
    }
  }

  /**
   * A new device with its one auth set, both in `status` (pending for a device seen for the first
   * time, preauthorized by an operator), its identity pushed to inventory. Returns its id.
   */
  function createDevice(
    tenantId: string,
    key: { normalised: string; hash: string; identity: Record<string, unknown>; pem: string },
    status: 'pending' | 'preauthorized',
  ): string {
    const now = clock.now()
    const device: DeviceRow = {
      id: ids.uuid(),
      tenantId,
      identity: key.normalised,
      identityHash: key.hash,
      status,
      createdTs: now,
      updatedTs: now,
      checkInTs: null,
    }
    store.insertDevice(device)
    store.insertAuthSet({
      id: ids.uuid(),
      tenantId,
      deviceId: device.id,
      pubkey: key.pem,
      status,
      createdTs: now,
    })
    inventory.upsertIdentity(tenantId, device.id, key.identity, status)
    return device.id
  }

  /**
   * The writes of a checked auth request, in one transaction. Returns the claims of the token to sign
   * when the auth set is accepted (a matching preauthorization is accepted now); otherwise nothing.
   */
  function recordAuthRequest(tenantId: string, request: AuthRequest): Claims | undefined {
    return store.transaction(() => {
      const hash = identityHash(request.normalised)
      const device = store.findDeviceByIdentityHash(tenantId, hash)
      if (!device) {
        createDevice(
          tenantId,
          { normalised: request.normalised, hash, identity: request.identity, pem: request.publicKey.pem },
          'pending',
        )
        return undefined
      }
      const authSet = store.findAuthSetByKey(tenantId, device.id, request.publicKey.pem)
      if (!authSet) {
        // A known identity with a new key (key rotation): a new pending auth set; an accepted device stays accepted.
        // Keys are free to make: past the cap the oldest pending auth set makes room.
        const pending = store.listAuthSets(tenantId, [device.id]).filter((set) => set.status === 'pending')
        for (const old of pending.slice(0, Math.max(0, pending.length - MAX_PENDING_AUTH_SETS + 1))) {
          store.deleteAuthSet(tenantId, old.id)
        }
        store.insertAuthSet({
          id: ids.uuid(),
          tenantId,
          deviceId: device.id,
          pubkey: request.publicKey.pem,
          status: 'pending',
          createdTs: clock.now(),
        })
        refreshDeviceStatus(device)
        return undefined
      }
      if (authSet.status === 'preauthorized') {
        // Throwing rolls the transaction back: the device stays preauthorized for a later attempt.
        if (device.status !== 'accepted' && !canAcceptDevice(tenantId)) {
          throw new UnauthorizedError('unauthorized', 'DeviceJWT')
        }
        acceptAuthSet(device, authSet)
        return issueToken(device, authSet)
      }
      return authSet.status === 'accepted' ? issueToken(device, authSet) : undefined
    })
  }

  function requireDevice(tenantId: string, id: string): DeviceRow {
    const device = store.findDeviceById(tenantId, id)
    if (!device) throw new NotFoundError('device not found')
    return device
  }

  function requireAuthSet(tenantId: string, deviceId: string, id: string): AuthSetRow {
    const authSet = store.findAuthSetById(tenantId, id)
    if (!authSet || authSet.deviceId !== deviceId) throw new NotFoundError('authorization set not found')
    return authSet
  }

  function apiDevice(device: DeviceRow): ApiDevice {
    return toApiDevice(device, store.listAuthSets(device.tenantId, [device.id]))
  }

  const authenticator = createDeviceAuthenticator({ store, tokens, clock, checkIns })

  return {
    authenticator,

    flushCheckIns(): void {
      checkIns.flush()
    },

    stop(): void {
      checkIns.stop()
    },

    async submitAuthRequest(body: Uint8Array, signature: string | undefined): Promise<string> {
      const request = checkAuthRequest(body, signature)
      // Single-tenant: a tenant token, if sent, is ignored as in Mender's open-source server.
      const claims = recordAuthRequest('', request)
      if (!claims) throw new UnauthorizedError('dev auth: unauthorized', 'DeviceJWT')
      // A preauthorized device is accepted here; provisioning an already known device changes nothing.
      runWorkflow('provision', workflows && (() => workflows.deviceAccepted('', claims.sub as string)))
      return tokens.sign(claims)
    },

    listDevices(tenantId: string, filter: DeviceFilter, paging: Paging) {
      checkStatusFilter(filter.statuses)
      const rows = store.listDevices(tenantId, filter, pageOffset(paging), paging.perPage + 1)
      const page = rows.slice(0, paging.perPage)
      const sets = Map.groupBy(
        store.listAuthSets(
          tenantId,
          page.map((device) => device.id),
        ),
        (set) => set.deviceId,
      )
      return {
        devices: page.map((device) => toApiDevice(device, sets.get(device.id) ?? [])),
        hasNext: rows.length > paging.perPage,
      }
    },

    countDevices(tenantId: string, status: string | undefined): number {
      checkStatusFilter(status ? [status] : undefined)
      return store.countDevices(tenantId, status as DeviceStatus | undefined)
    },

    getDevice: (tenantId: string, id: string): ApiDevice => apiDevice(requireDevice(tenantId, id)),

    preauthorize(tenantId: string, input: PreauthorizationInput): Preauthorization {
      const { identity, publicKey, normalised } = checkPreauthorization(input)
      const hash = identityHash(normalised)
      return store.transaction((): Preauthorization => {
        const now = clock.now()
        const existing = store.findDeviceByIdentityHash(tenantId, hash)
        if (existing && !input.force) return { created: false, existing: apiDevice(existing) }
        if (existing) {
          const authSet = store.findAuthSetByKey(tenantId, existing.id, publicKey.pem)
          if (authSet) store.setAuthSetStatus(tenantId, authSet.id, 'preauthorized')
          else {
            store.insertAuthSet({
              id: ids.uuid(),
              tenantId,
              deviceId: existing.id,
              pubkey: publicKey.pem,
              status: 'preauthorized',
              createdTs: now,
            })
          }
          refreshDeviceStatus(existing)
          return { created: true, deviceId: existing.id }
        }
        const deviceId = createDevice(
          tenantId,
          { normalised, hash, identity, pem: publicKey.pem },
          'preauthorized',
        )
        return { created: true, deviceId }
      })
    },

    decommission(tenantId: string, id: string): void {
      store.transaction(() => {
        if (!store.deleteDevice(tenantId, id)) throw new NotFoundError('device not found')
        inventory.removeDevice(tenantId, id)
        deployments?.markDeviceDecommissioned(tenantId, id)
      })
      runWorkflow('decommission', workflows && (() => workflows.deviceRemoved(tenantId, id)))
    },

    deleteAuthSet(tenantId: string, deviceId: string, id: string): void {
      store.transaction(() => {
        const authSet = requireAuthSet(tenantId, deviceId, id)
        const device = requireDevice(tenantId, deviceId)
        store.deleteAuthSet(tenantId, id)
        if (authSet.status === 'preauthorized' && store.authSetStatuses(tenantId, deviceId).length === 0) {
          store.deleteDevice(tenantId, deviceId)
          inventory.removeDevice(tenantId, deviceId)
          return
        }
        refreshDeviceStatus(device)
      })
    },

    getAuthSetStatus: (tenantId: string, deviceId: string, id: string): { status: string } => ({
      status: requireAuthSet(tenantId, deviceId, id).status,
    }),

    setAuthSetStatus(tenantId: string, deviceId: string, id: string, status: string): void {
      if (!(SETTABLE_STATUSES as readonly string[]).includes(status)) {
        throw new BadRequestError('incorrect device status')
      }
      const target = status as DeviceStatus
      store.transaction(() => {
        const authSet = store.findAuthSetById(tenantId, id)
        if (!authSet) throw new NotFoundError('authorization set not found')
        if (authSet.deviceId !== deviceId) throw new BadRequestError('dev auth: dev ID and auth ID mismatch')
        if (authSet.status === target) return
        if (!isAllowedTransition(authSet.status, target)) throw new BadRequestError('dev auth: bad request')
        const device = requireDevice(tenantId, deviceId)
        if (target === 'accepted') {
          if (device.status !== 'accepted' && !canAcceptDevice(tenantId)) {
            throw new UnprocessableError('maximum number of accepted devices reached')
          }
          acceptAuthSet(device, authSet)
          return
        }
        store.setAuthSetStatus(tenantId, id, target)
        refreshDeviceStatus(device)
      })
      if (target === 'accepted') {
        runWorkflow('provision', workflows && (() => workflows.deviceAccepted(tenantId, deviceId)))
      }
    },

    revokeToken(tenantId: string, id: string): void {
      if (!store.deleteToken(tenantId, id)) throw new NotFoundError('token not found')
    },

    limit(name: string): number {
      if (name !== 'max_devices') throw new BadRequestError(`unsupported limit ${name}`)
      return config.maxDevices
    },
  }
}
