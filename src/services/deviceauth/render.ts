import type { IdentityData } from './identity.ts'
import type { ApiDevice } from './model.ts'
import type { AuthSetRow, DeviceRow } from './store.ts'

/** A device with its auth sets, as Mender's API shows it. */
export function toApiDevice(device: DeviceRow, sets: readonly AuthSetRow[]): ApiDevice {
  const identity = JSON.parse(device.identity) as IdentityData
  return {
    id: device.id,
    identity_data: identity,
    status: device.status,
    // Decommissioning is one transaction here, not a background workflow: no device is ever caught midway.
    decommissioning: false,
    created_ts: device.createdTs.toISOString(),
    updated_ts: device.updatedTs.toISOString(),
    auth_sets: sets.map((set) => ({
      id: set.id,
      identity_data: identity,
      pubkey: set.pubkey,
      ts: set.createdTs.toISOString(),
      status: set.status,
    })),
    ...(device.checkInTs ? { check_in_time: device.checkInTs.toISOString() } : {}),
  }
}
