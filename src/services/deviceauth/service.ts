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
  checkAuthRequest,
  checkPreauthorization,
  checkStatusFilter,
  type PreauthorizationInput,
} from './requests.ts'
import { withSharedRevocations } from './revocations.ts'
import { isAllowedTransition, SETTABLE_STATUSES } from './status.ts'
import { createRevocationCounter, type DeviceFilter, type DeviceRow } from './store.ts'

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
 * What deviceauth needs from inventory: the `identity` scope of each device, including its status,
 * and the check-in times. Called after deviceauth's own change committed, awaited in order.
 */
export type DeviceauthInventory = Pick<
  InventoryService,
  'upsertIdentity' | 'setIdentityStatus' | 'removeDevice' | 'writeCheckIns' | 'checkInTimes'
>

/**
 * What deviceauth tells deployments when a device is decommissioned: its active and future device
 * deployments become `decommissioned`. Called after the device is gone here; the same change also
 * reaches deployments through its durable `device-decommissioned` subscription, so it must be
 * idempotent.
 */
export type DeviceauthDeployments = {
  markDeviceDecommissioned(tenantId: string, deviceId: string): Promise<void>
}

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
  flushCheckIns(): Promise<void>
  /** Stops the periodic flush and writes what is still buffered; call before closing the database. */
  stop(): Promise<void>
  /**
   * A device's auth request (`body` is the exact request bytes, `signature` its X-MEN-Signature).
   * Answers a signed token when the device's auth set is accepted (or preauthorized with this key);
   * otherwise records the device and key for an operator to decide on, and refuses.
   */
  submitAuthRequest(body: Uint8Array, signature: string | undefined): Promise<string>
  /** A page of devices (oldest first) with their auth sets; `hasNext` when more follow. */
  listDevices(tenantId: string, filter: DeviceFilter, paging: Paging): Promise<DeviceListing>
  /** How many devices have `status` (all when undefined). */
  countDevices(tenantId: string, status: string | undefined): Promise<number>
  /** One device with its auth sets; 404 when unknown. */
  getDevice(tenantId: string, id: string): Promise<ApiDevice>
  /**
   * Registers an identity and key so that the device is accepted on its first auth request. An
   * identity already known is a conflict unless `force`, which adds (or re-preauthorizes) the key.
   */
  preauthorize(tenantId: string, input: PreauthorizationInput): Promise<Preauthorization>
  /**
   * Removes the device: its auth sets and tokens (with a `device-decommissioned` event), then its
   * inventory and its deployments, before answering. Should the process stop in between, inventory
   * and deployments catch up from the event at the next start.
   */
  decommission(tenantId: string, id: string): Promise<void>
  /**
   * Deletes an auth set (its token with it). A device left without auth sets stays as `noauth`,
   * unless the last one was a preauthorization: then the device itself goes.
   */
  deleteAuthSet(tenantId: string, deviceId: string, id: string): Promise<void>
  /** The auth set's status; 404 when it is not the device's. */
  getAuthSetStatus(tenantId: string, deviceId: string, id: string): Promise<{ status: string }>
  /**
   * Moves an auth set to `status` where Mender allows it (accepting one rejects the device's other
   * accepted set; a newly accepted device must fit `max_devices`, 422); the device's status
   * follows and is mirrored to inventory.
   */
  setAuthSetStatus(tenantId: string, deviceId: string, id: string, status: string): Promise<void>
  /** Revokes a device token by its `jti`: the device's next request is refused and it must authenticate again. */
  revokeToken(tenantId: string, id: string): Promise<void>
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
  const revocations = createRevocationCounter()
  const store = deps.stores.deviceauth(revocations)
  const { clock, ids, tokens, config, log } = deps
  const { inventory, deployments, workflows } = services
  /** Runs a workflow after the commit; its failure is logged, never the caller's. */
  /** Starts a workflow and does not wait for it: it may finish after the answer, and logs its own failure. */
  const runWorkflow = (name: string, run: (() => Promise<void>) | undefined): void => {
    void run?.().catch((err) => log.error('device workflow failed', { workflow: name, err }))
  }
  const context = () => ({ now: clock.now(), newId: () => ids.uuid(), maxAccepted: config.maxDevices })

  /**
   * One batch of check-ins, written once: to inventory's `system/check_in_time`, which this
   * service's device listings read too (see `withCheckIns`), so a check-in rewrites no device row.
   */
  async function writeCheckIns(batch: CheckIn[]): Promise<void> {
    await inventory.writeCheckIns(batch)
  }

  /**
   * The devices with their check-in times from inventory. A device inventory has none for keeps
   * the time of its row, where check-ins were written before they went to inventory only.
   */
  async function withCheckIns(tenantId: string, rows: DeviceRow[]): Promise<DeviceRow[]> {
    const times = await inventory.checkInTimes(
      tenantId,
      rows.map((row) => row.id),
    )
    return rows.map((row) => ({ ...row, checkInTs: times.get(row.id) ?? row.checkInTs }))
  }
  const checkIns = createCheckInBuffer(writeCheckIns, CHECK_IN_FLUSH_MS)
  checkIns.start((err) => log.error('writing device check-ins failed; will retry', { err }))

  /** Mirrors a status change (when there was one) to inventory's identity scope. */
  async function mirrorStatus(tenantId: string, deviceId: string, change: { status?: DeviceStatus }) {
    if (change.status) await inventory.setIdentityStatus(tenantId, deviceId, change.status)
  }

  /** The claims of a recorded token, in Mender's order. */
  function claimsOf(device: DeviceRow, authSetId: string, issued: Date, expires: Date): Claims {
    return {
      jti: authSetId,
      sub: device.id,
      iss: DEVICE_TOKEN_ISSUER,
      ...(device.tenantId ? { 'mender.tenant': device.tenantId } : {}),
      exp: Math.floor(expires.getTime() / 1000),
      iat: Math.floor(issued.getTime() / 1000),
      nbf: ZERO_TIME_UNIX,
      'mender.device': true,
      'mender.plan': DEVICE_PLAN,
      'mender.trial': false,
      'mender.addons': DEVICE_ADDONS,
    }
  }

  async function requireDevice(tenantId: string, id: string): Promise<DeviceRow> {
    const device = await store.findDeviceById(tenantId, id)
    if (!device) throw new NotFoundError('device not found')
    return device
  }

  async function apiDevice(device: DeviceRow): Promise<ApiDevice> {
    const [shown] = await withCheckIns(device.tenantId, [device])
    return toApiDevice(shown!, await store.listAuthSets(device.tenantId, [device.id]))
  }

  /** After a device went here: its inventory, then its deployments, in this order. */
  async function removeElsewhere(tenantId: string, id: string): Promise<void> {
    await inventory.removeDevice(tenantId, id)
    await deployments?.markDeviceDecommissioned(tenantId, id)
  }

  const authenticator = withSharedRevocations(
    createDeviceAuthenticator({
      store,
      revocations,
      tokens,
      clock,
      checkIns,
      cacheBytes: config.deviceTokenCacheBytes,
    }),
    revocations,
  )

  return {
    authenticator,

    async flushCheckIns(): Promise<void> {
      await checkIns.flush()
    },

    stop: () => checkIns.stop(),

    async submitAuthRequest(body: Uint8Array, signature: string | undefined): Promise<string> {
      const request = checkAuthRequest(body, signature)
      const key = {
        hash: identityHash(request.normalised),
        normalised: request.normalised,
        pem: request.publicKey.pem,
      }
      const now = clock.now()
      const expires = new Date((Math.floor(now.getTime() / 1000) + config.deviceTokenTtlSeconds) * 1000)
      // Single-tenant: a tenant token, if sent, is ignored as in Mender's open-source server.
      const outcome = await store.recordAuthRequest('', key, {
        ...context(),
        now,
        maxPending: MAX_PENDING_AUTH_SETS,
        expires,
      })
      const refused = () => new UnauthorizedError('dev auth: unauthorized', 'DeviceJWT')
      switch (outcome.kind) {
        case 'new-device':
          await inventory.upsertIdentity('', outcome.device.id, request.identity, 'pending')
          throw refused()
        case 'new-key':
          await mirrorStatus('', outcome.device.id, outcome)
          throw refused()
        case 'over-limit':
          throw new UnauthorizedError('unauthorized', 'DeviceJWT')
        case 'refused':
          throw refused()
      }
      const { device, authSetId } = outcome
      await mirrorStatus('', device.id, outcome)
      // An authentication shows as a check-in at once (it is rare: the token lasts a week); the
      // buffer also takes it, so that a time it holds from an earlier request cannot follow it.
      checkIns.record('', device.id, now)
      await inventory.writeCheckIns([{ tenantId: '', deviceId: device.id, at: now }])
      // A preauthorized device is accepted here; provisioning an already known device changes nothing.
      runWorkflow('provision', workflows && (() => workflows.deviceAccepted('', device.id)))
      return tokens.sign(claimsOf(device, authSetId, now, expires))
    },

    async listDevices(tenantId: string, filter: DeviceFilter, paging: Paging) {
      checkStatusFilter(filter.statuses)
      const rows = await store.listDevices(tenantId, filter, pageOffset(paging), paging.perPage + 1)
      const shown = await withCheckIns(tenantId, rows.slice(0, paging.perPage))
      const authSets = await store.listAuthSets(
        tenantId,
        shown.map((device) => device.id),
      )
      const sets = Map.groupBy(authSets, (set) => set.deviceId)
      return {
        devices: shown.map((device) => toApiDevice(device, sets.get(device.id) ?? [])),
        hasNext: rows.length > paging.perPage,
      }
    },

    async countDevices(tenantId: string, status: string | undefined): Promise<number> {
      checkStatusFilter(status ? [status] : undefined)
      return store.countDevices(tenantId, status as DeviceStatus | undefined)
    },

    getDevice: async (tenantId: string, id: string): Promise<ApiDevice> =>
      apiDevice(await requireDevice(tenantId, id)),

    async preauthorize(tenantId: string, input: PreauthorizationInput): Promise<Preauthorization> {
      const { identity, publicKey, normalised } = checkPreauthorization(input)
      const key = { hash: identityHash(normalised), normalised, pem: publicKey.pem }
      const outcome = await store.preauthorize(tenantId, key, input.force === true, context())
      if (outcome.kind === 'exists') return { created: false, existing: await apiDevice(outcome.device) }
      if (outcome.created)
        await inventory.upsertIdentity(tenantId, outcome.device.id, identity, 'preauthorized')
      else await mirrorStatus(tenantId, outcome.device.id, outcome)
      return { created: true, deviceId: outcome.device.id }
    },

    async decommission(tenantId: string, id: string): Promise<void> {
      if (!(await store.decommission(tenantId, id))) throw new NotFoundError('device not found')
      await removeElsewhere(tenantId, id)
      runWorkflow('decommission', workflows && (() => workflows.deviceRemoved(tenantId, id)))
    },

    async deleteAuthSet(tenantId: string, deviceId: string, id: string): Promise<void> {
      const outcome = await store.deleteAuthSet(tenantId, deviceId, id, clock.now())
      if (outcome.kind === 'missing-auth-set') throw new NotFoundError('authorization set not found')
      if (outcome.kind === 'missing-device') throw new NotFoundError('device not found')
      // The last preauthorization of a device that never authenticated: nothing of it is left in deployments.
      if (outcome.kind === 'device-removed') await inventory.removeDevice(tenantId, deviceId)
      if (outcome.kind === 'deleted') await mirrorStatus(tenantId, deviceId, outcome)
    },

    async getAuthSetStatus(tenantId: string, deviceId: string, id: string): Promise<{ status: string }> {
      const authSet = await store.findAuthSetById(tenantId, id)
      if (!authSet || authSet.deviceId !== deviceId) throw new NotFoundError('authorization set not found')
      return { status: authSet.status }
    },

    async setAuthSetStatus(tenantId: string, deviceId: string, id: string, status: string): Promise<void> {
      if (!(SETTABLE_STATUSES as readonly string[]).includes(status)) {
        throw new BadRequestError('incorrect device status')
      }
      const target = status as DeviceStatus
      const outcome = await store.setAuthSetStatus(tenantId, deviceId, id, target, {
        ...context(),
        allowed: isAllowedTransition,
      })
      switch (outcome.kind) {
        case 'missing-auth-set':
          throw new NotFoundError('authorization set not found')
        case 'mismatch':
          throw new BadRequestError('dev auth: dev ID and auth ID mismatch')
        case 'not-allowed':
          throw new BadRequestError('dev auth: bad request')
        case 'missing-device':
          throw new NotFoundError('device not found')
        case 'over-limit':
          throw new UnprocessableError('maximum number of accepted devices reached')
        case 'set':
          await mirrorStatus(tenantId, deviceId, outcome)
      }
      if (target === 'accepted') {
        runWorkflow('provision', workflows && (() => workflows.deviceAccepted(tenantId, deviceId)))
      }
    },

    async revokeToken(tenantId: string, id: string): Promise<void> {
      if (!(await store.deleteToken(tenantId, id))) throw new NotFoundError('token not found')
    },

    limit(name: string): number {
      if (name !== 'max_devices') throw new BadRequestError(`unsupported limit ${name}`)
      return config.maxDevices
    },
  }
}
