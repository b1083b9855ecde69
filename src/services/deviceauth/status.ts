import { DEVICE_STATUSES, type DeviceStatus } from './model.ts'

/** Statuses an operator may set on an auth set; `preauthorized` comes only from a preauthorization. */
export const SETTABLE_STATUSES: readonly DeviceStatus[] = ['accepted', 'rejected', 'pending']

export const isDeviceStatus = (value: string): value is DeviceStatus =>
  (DEVICE_STATUSES as readonly string[]).includes(value)

/** Which status wins when a device has several auth sets: any accepted one, then this order. */
const WEIGHT: Record<DeviceStatus, number> = {
  noauth: 0,
  rejected: 1,
  pending: 2,
  preauthorized: 3,
  accepted: 4,
}

/** A device's status from its auth sets' statuses: the heaviest one, or `noauth` when it has none. */
export function deriveDeviceStatus(authSetStatuses: readonly DeviceStatus[]): DeviceStatus {
  let status: DeviceStatus = 'noauth'
  for (const candidate of authSetStatuses) if (WEIGHT[candidate] > WEIGHT[status]) status = candidate
  return status
}

/**
 * The manual transitions Mender allows: accept a pending or rejected auth set, reject a pending or
 * accepted one, and send anything but a preauthorized one back to pending. A preauthorized auth set
 * is accepted only by its device's own auth request.
 */
export function isAllowedTransition(from: DeviceStatus, to: DeviceStatus): boolean {
  switch (to) {
    case 'accepted':
      return from === 'pending' || from === 'rejected'
    case 'rejected':
      return from === 'pending' || from === 'accepted'
    case 'pending':
      return from !== 'preauthorized'
    default:
      return false
  }
}
