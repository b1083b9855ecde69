import { expect, test } from 'bun:test'
import { startBender } from '../helpers/server.ts'

test('a first start without users prints a one-time setup link and how to create one, and stops cleanly on SIGTERM', async () => {
  const server = await startBender()
  expect(server.output()).toMatch(
    new RegExp(
      `no users yet: open ${server.url}/#/setup/[A-Za-z0-9_-]{43} within an hour to create the first admin`,
    ),
  )
  expect(server.output()).toContain('`npm run bender -- user create')
  expect(await server.stop()).toBe(0)
  expect(server.output()).toContain('msg=stopping signal=SIGTERM')
  expect(server.output()).toContain('msg=stopped')
}, 30_000)

test('BENDER_ADMIN_EMAIL/PASSWORD create that user once; it logs in', async () => {
  const env = { BENDER_ADMIN_EMAIL: 'root@example.com', BENDER_ADMIN_PASSWORD: 'root-password' }
  const server = await startBender({ env })
  expect(server.output()).toContain('created the admin user from BENDER_ADMIN_EMAIL')
  const login = await fetch(`${server.url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa('root@example.com:root-password')}` },
  })
  expect(login.status).toBe(200)
  expect(await server.stop()).toBe(0)
}, 30_000)

test('a request in flight when SIGTERM arrives still gets its answer', async () => {
  const server = await startBender({
    env: { BENDER_ADMIN_EMAIL: 'a@example.com', BENDER_ADMIN_PASSWORD: 'a-password' },
  })
  const body = '{"no_expiry":true}'
  let response = ''
  const { promise: answered, resolve } = Promise.withResolvers<void>()
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port: Number(new URL(server.url).port),
    socket: {
      data(_socket, chunk) {
        response += chunk.toString()
        if (response.includes('\r\n\r\n')) resolve()
      },
      close: () => resolve(),
    },
  })
  // Headers and half the body: the request is in flight, waiting for the rest.
  socket.write(
    `POST /api/management/v1/useradm/auth/login HTTP/1.1\r\nHost: 127.0.0.1:${new URL(server.url).port}\r\n` +
      `Authorization: Basic ${btoa('a@example.com:a-password')}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
  )
  await Bun.sleep(100)
  const stopped = server.stop()
  await Bun.sleep(200)
  socket.write(body.slice(5))
  await answered
  socket.end()
  expect(response).toStartWith('HTTP/1.1 200')
  expect(await stopped).toBe(0)
}, 30_000)

test('short host names (Host: ota) route correctly', async () => {
  const server = await startBender()
  const response = await new Promise<string>((resolve) => {
    let text = ''
    Bun.connect({
      hostname: '127.0.0.1',
      port: Number(new URL(server.url).port),
      socket: {
        open: (socket) => {
          socket.write(
            'GET /api/internal/v1/useradm/alive HTTP/1.1\r\nHost: ota\r\nConnection: close\r\n\r\n',
          )
        },
        data: (_socket, chunk) => {
          text += chunk.toString()
        },
        close: () => resolve(text),
      },
    })
  })
  expect(response).toStartWith('HTTP/1.1 204')
  await server.stop()
}, 30_000)
