import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { startTestServer, type TestServer } from '../helpers/server.ts'

setDefaultTimeout(30_000)

let server: TestServer
let port: number

beforeAll(async () => {
  server = await startTestServer({ BENDER_IDLE_TIMEOUT: '1', BENDER_BODY_TIMEOUT: '1' })
  port = Number(new URL(server.url).port)
})
afterAll(() => server.stop())

/** A raw connection that records what the server sends and whether it closed. */
async function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  let text = ''
  socket.on('data', (chunk) => {
    text += chunk.toString()
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return { socket, received: () => text, closed }
}

test('a body sent a byte at a time is answered 408 while it is still being sent', async () => {
  const { socket, received, closed } = await open()
  socket.write(
    'POST /api/devices/v1/authentication/auth_requests HTTP/1.1\r\nHost: localhost\r\n' +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
  )
  // Never idle (a byte every 100 ms), never done: 150 bytes take 15 s, far short of the 1000
  // declared. The answer is due after 1 s; the rest is room for a loaded machine (5 s was not).
  for (let i = 0; i < 150 && received() === ''; i++) {
    socket.write('{')
    await Bun.sleep(100)
  }
  expect(received()).toStartWith('HTTP/1.1 408')
  socket.destroy()
  await closed
})

test('an idle keep-alive connection is closed by the server', async () => {
  const { socket, received, closed } = await open()
  socket.write('GET /api/internal/v1/useradm/alive HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await closed
  expect(received()).toStartWith('HTTP/1.1 204')
})
