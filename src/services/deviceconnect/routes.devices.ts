import { Elysia } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import type { DeviceLink } from './hub.ts'
import type { DeviceconnectService } from './service.ts'
import { messageBytes, peerOf } from './sockets.ts'

/** The device side: mender-connect's one websocket, carrying every session to the device. */
export const deviceconnectDeviceRoutes = (svc: DeviceconnectService, auth: AuthPlugin) => {
  const links = new WeakMap<object, DeviceLink>()
  return new Elysia({ prefix: '/api/devices/v1/deviceconnect', detail: { tags: ['deviceconnect'] } })
    .use(auth)
    .ws('/connect', {
      device: true,
      detail: {
        summary: 'Websocket of a device (mender-connect); authenticated by its token or the JWT cookie',
      },
      open(ws) {
        links.set(ws.raw, svc.connectDevice(ws.data.device, peerOf(ws.raw)))
      },
      message(ws, data) {
        const link = links.get(ws.raw)
        const bytes = messageBytes(data)
        if (link && bytes) svc.deviceMessage(link, bytes)
      },
      close(ws) {
        const link = links.get(ws.raw)
        if (!link) return
        links.delete(ws.raw)
        void svc.deviceClosed(link)
      },
    })
}
