import { Elysia, t } from 'elysia'
import type { AuthPlugin, UserPrincipal } from '../../gateway/auth.ts'
import { STREAM_BODY_PARSER, streamBodyParser, TRANSFER_IDLE_TIMEOUT_SECONDS } from '../../gateway/body.ts'
import { BadRequestError } from '../../gateway/errors.ts'
import { parsePaging, setPageHeaders } from '../../gateway/paging.ts'
import { DeviceconnectModel as M, toApiDevice, toApiSession } from './model.ts'
import type { SessionUser } from './places.ts'
import type { DeviceconnectService } from './service.ts'
import type { RemoteSession } from './session.ts'
import { messageBytes, peerOf } from './sockets.ts'
import { downloadResponse, readUploadForm } from './transfer.http.ts'

const sessionUser = (user: UserPrincipal): SessionUser => ({ tenantId: user.tenantId, userId: user.userId })

const uploadForm = {
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object' as const,
        required: ['path', 'file'],
        properties: {
          path: { type: 'string' as const, description: 'Absolute destination path on the device.' },
          uid: { type: 'string' as const, description: 'Owner uid (decimal).' },
          gid: { type: 'string' as const, description: 'Owner gid (decimal).' },
          mode: { type: 'string' as const, description: 'Permissions (octal).' },
          file: {
            type: 'string' as const,
            format: 'binary',
            description: 'The file; fields after it are not read.',
          },
        },
      },
    },
  },
}

/** The management side: device state, terminal and port-forward sessions, file transfer, playback, audit. */
export const deviceconnectManagementRoutes = (svc: DeviceconnectService, auth: AuthPlugin) => {
  // Long as a whole: one Elysia chain with a short handler per route.
  const sessions = new WeakMap<object, RemoteSession>()
  const reservations = new WeakMap<Request, Promise<void>>()
  return new Elysia({ prefix: '/api/management/v1/deviceconnect', detail: { tags: ['deviceconnect'] } })
    .use(auth)
    .use(streamBodyParser)
    .get(
      '/devices/:id',
      async ({ user, params }) => toApiDevice(await svc.getDevice(user.tenantId, params.id)),
      { user: true, params: M.deviceParams, response: { 200: M.device } },
    )
    .ws('/devices/:id/connect', {
      user: true,
      params: M.deviceParams,
      detail: {
        summary: 'Websocket session to a device (terminal, port forward); Bearer token or JWT cookie',
      },
      // Elysia runs a websocket route's beforeHandle twice per request: the place is taken once.
      beforeHandle: async ({ user, params, request }) => {
        let reserving = reservations.get(request)
        if (!reserving) {
          reserving = svc.reserveSession(sessionUser(user), params.id)
          reservations.set(request, reserving)
        }
        await reserving
      },
      open(ws) {
        const { user, params } = ws.data
        try {
          sessions.set(ws.raw, svc.openSession(sessionUser(user), params.id, peerOf(ws.raw)))
        } catch (err) {
          ws.close(1008, err instanceof Error ? err.message : 'session refused')
        }
      },
      message(ws, data) {
        sessions.get(ws.raw)?.fromUser(messageBytes(data))
      },
      close(ws) {
        const session = sessions.get(ws.raw)
        sessions.delete(ws.raw)
        session?.userClosed()
      },
    })
    .get(
      '/devices/:id/download',
      async ({ user, params, query, request, server }) => {
        if (!query.path.startsWith('/')) throw new BadRequestError('path: must be absolute.')
        // A transfer waits on the device (up to 60 s a reply, as in Mender): not the API's short timeout.
        server?.timeout(request, TRANSFER_IDLE_TIMEOUT_SECONDS)
        return downloadResponse(await svc.download(sessionUser(user), params.id, query.path))
      },
      {
        user: true,
        params: M.deviceParams,
        query: M.downloadQuery,
        detail: { summary: 'Download a file from a device' },
      },
    )
    .put(
      '/devices/:id/upload',
      async ({ user, params, request, set, server }) => {
        server?.timeout(request, TRANSFER_IDLE_TIMEOUT_SECONDS)
        const form = await readUploadForm(request.headers.get('content-type'), request.body)
        await svc.upload(sessionUser(user), params.id, form.target, form.file)
        set.status = 201
      },
      {
        user: true,
        params: M.deviceParams,
        parse: STREAM_BODY_PARSER,
        detail: { summary: 'Upload a file to a device (streamed)', requestBody: uploadForm },
      },
    )
    .post(
      '/devices/:id/:command',
      async ({ user, params, set }) => {
        await svc.sendClientCommand(user.tenantId, params.id, params.command, user.userId)
        set.status = 202
      },
      {
        user: true,
        params: M.clientCommandParams,
        response: { 202: t.Void() },
        detail: { summary: "Asks the device's mender client to check-update or send-inventory now" },
      },
    )
    .get(
      '/sessions',
      async ({ user, query, request, set }) => {
        const paging = parsePaging(query)
        const filter = { deviceId: query.device_id, userId: query.user_id }
        const { sessions: found, total } = await svc.listSessions(user.tenantId, filter, paging)
        setPageHeaders(set, request.url, paging, { total })
        return found.map(toApiSession)
      },
      {
        user: true,
        query: M.sessionsQuery,
        response: { 200: t.Array(M.session) },
        detail: { summary: 'Sessions to devices, newest first: who, which device, when, how long (bender)' },
      },
    )
    .ws('/sessions/:id/playback', {
      user: true,
      params: M.sessionParams,
      query: M.playbackQuery,
      detail: { summary: "Replays a terminal session's recorded output over a websocket" },
      beforeHandle: async ({ user, params }) => {
        await svc.getSession(user.tenantId, params.id)
      },
      open(ws) {
        const { user, params, query } = ws.data
        void svc
          .playback(user.tenantId, params.id, peerOf(ws.raw), query.sleep_ms ?? 100)
          .catch(() => ws.close(1011))
      },
    })
}
