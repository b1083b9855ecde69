import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { request } from 'node:http'
import { startTestServer } from '../helpers/server.ts'

// Each login checks an argon2 hash (~150 ms), slower on a loaded machine.
setDefaultTimeout(120_000)

const LOGIN = '/api/management/v1/useradm/auth/login'

let server: Awaited<ReturnType<typeof startTestServer>>

beforeAll(async () => {
  server = await startTestServer({ BENDER_TRUSTED_PROXIES: '127.0.0.9' })
  await server.services.useradm.createUser('', { email: 'victim@example.com', password: 'victim-pass-1' })
})
afterAll(() => server.stop())

/** A login over a real socket from a chosen loopback address, so the server sees that client address. */
function login(
  email: string,
  password: string,
  from = '127.0.0.1',
  headers: Record<string, string> = {},
): Promise<number> {
  const url = new URL(server.url)
  return new Promise((done, fail) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: LOGIN,
        method: 'POST',
        localAddress: from,
        headers: { authorization: `Basic ${btoa(`${email}:${password}`)}`, ...headers },
      },
      (res) => {
        res.resume()
        res.on('end', () => done(res.statusCode ?? 0))
      },
    )
    req.on('error', fail)
    req.end()
  })
}

test('concurrent guesses are counted before they are verified: at most five of forty are checked', async () => {
  const statuses = await Promise.all(
    Array.from({ length: 40 }, () => login('victim@example.com', 'wrong-guess', '127.0.0.2')),
  )
  expect(statuses.filter((status) => status === 401)).toHaveLength(5)
  expect(statuses.filter((status) => status === 429)).toHaveLength(35)
})

test('a third party locked out from its address does not lock the user out of theirs', async () => {
  expect(await login('victim@example.com', 'victim-pass-1', '127.0.0.2')).toBe(429)
  expect(await login('victim@example.com', 'victim-pass-1', '127.0.0.1')).toBe(200)
})

test('one address trying many emails is slowed down too', async () => {
  const statuses: number[] = []
  for (let i = 0; i < 21; i++) statuses.push(await login(`user${i}@example.com`, 'wrong-guess', '127.0.0.3'))
  expect(statuses.slice(0, 20).every((status) => status === 401)).toBe(true)
  expect(statuses[20]).toBe(429)
  expect(await login('victim@example.com', 'victim-pass-1', '127.0.0.3')).toBe(429)
})

test('behind a trusted proxy, the forwarded client address is the one counted', async () => {
  const via = (client: string, password: string) =>
    login('victim@example.com', password, '127.0.0.9', { 'x-forwarded-for': `${client}, 127.0.0.9` })
  for (let i = 0; i < 5; i++) expect(await via('198.51.100.7', 'wrong-guess')).toBe(401)
  expect(await via('198.51.100.7', 'victim-pass-1')).toBe(429)
  expect(await via('198.51.100.8', 'victim-pass-1')).toBe(200)
  // An untrusted peer cannot choose its address by sending the header.
  const spoofed = (password: string) =>
    login('victim@example.com', password, '127.0.0.4', { 'x-forwarded-for': '198.51.100.9' })
  for (let i = 0; i < 5; i++) expect(await spoofed('wrong-guess')).toBe(401)
  expect(await spoofed('victim-pass-1')).toBe(429)
  expect(await via('198.51.100.9', 'victim-pass-1')).toBe(200)
})
