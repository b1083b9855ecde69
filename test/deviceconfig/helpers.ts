import type { TestApp } from '../helpers/app.ts'
import { waitFor } from '../helpers/server.ts'

export const MGMT = '/api/management/v1/deviceconfig/configurations/device'
export const DEVICE = '/api/devices/v1/deviceconfig/configuration'
export const INTERNAL = '/api/internal/v1/deviceconfig'

/** Waits until deviceconfig has followed the device's acceptance (or removal) and answers `status`. */
export const configurationStatus = (t: TestApp, admin: string, deviceId: string, status: number) =>
  waitFor(`configuration of ${deviceId} answering ${status}`, async () => {
    const res = await t.call('GET', `${MGMT}/${deviceId}`, { token: admin })
    return res.status === status ? res : undefined
  })
