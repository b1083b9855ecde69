import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RunningServer, run, startBender } from '../helpers/server.ts'

const home = mkdtempSync(join(tmpdir(), 'bender-cli-home-'))
let server: RunningServer

beforeAll(async () => {
  server = await startBender({
    env: { BENDER_ADMIN_EMAIL: 'operator@example.com', BENDER_ADMIN_PASSWORD: 'operator-password' },
  })
})
afterAll(async () => {
  await server.stop()
  rmSync(home, { recursive: true, force: true })
})

test('mender-cli 1.9 logs in and its saved token works on the users API', async () => {
  const login = await run(
    [
      'mender-cli',
      'login',
      '--server',
      server.url,
      '--username',
      'operator@example.com',
      '--password',
      'operator-password',
    ],
    { env: { HOME: home }, timeoutMs: 30_000 },
  )
  expect(login.code).toBe(0)
  const token = (await Bun.file(join(home, '.cache/mender/authtoken')).text()).trim()
  expect(token.split('.')).toHaveLength(3)
  const users = await fetch(`${server.url}/api/management/v1/useradm/users`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(users.status).toBe(200)
  expect(((await users.json()) as { email: string }[]).map((u) => u.email)).toContain('operator@example.com')
}, 60_000)

test('mender-cli reports a failed login for a wrong password', async () => {
  const login = await run(
    [
      'mender-cli',
      'login',
      '--server',
      server.url,
      '--username',
      'operator@example.com',
      '--password',
      'nope-nope',
    ],
    { env: { HOME: join(home, 'other') }, timeoutMs: 30_000 },
  )
  expect(login.code).not.toBe(0)
  expect(await Bun.file(join(home, 'other/.cache/mender/authtoken')).exists()).toBe(false)
}, 60_000)
