import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeArtifact } from '../deployments/helpers.ts'
import { type RunningServer, run, startBender } from '../helpers/server.ts'

const home = mkdtempSync(join(tmpdir(), 'bender-cli-artifacts-'))
let server: RunningServer

const cli = (...args: string[]) =>
  run(['mender-cli', '--server', server.url, ...args], { env: { HOME: home }, timeoutMs: 60_000 })

beforeAll(async () => {
  server = await startBender({
    env: { BENDER_ADMIN_EMAIL: 'operator@example.com', BENDER_ADMIN_PASSWORD: 'operator-password' },
  })
  const login = await cli('login', '--username', 'operator@example.com', '--password', 'operator-password')
  expect(login.code).toBe(0)
})
afterAll(async () => {
  await server.stop()
  rmSync(home, { recursive: true, force: true })
})

test('mender-cli 1.9 uploads, lists and deletes artifacts', async () => {
  // Big enough that mender-cli streams it in many chunks.
  const payload = join(home, 'payload.bin')
  await Bun.write(payload, crypto.getRandomValues(new Uint8Array(3 * 1024 * 1024)))
  const path = await makeArtifact(home, { name: 'cli-art-1', deviceTypes: ['dev-cli'], files: [payload] })

  const uploaded = await cli('artifacts', 'upload', '--no-progress', '--description', 'from the cli', path)
  expect(uploaded.code).toBe(0)

  const token = (await Bun.file(join(home, '.cache/mender/authtoken')).text()).trim()
  const listed = (await (
    await fetch(`${server.url}/api/management/v1/deployments/artifacts`, {
      headers: { authorization: `Bearer ${token}` },
    })
  ).json()) as { id: string; name: string; description: string; size: number }[]
  expect(listed).toHaveLength(1)
  expect(listed[0]).toMatchObject({
    name: 'cli-art-1',
    description: 'from the cli',
    size: Bun.file(path).size,
  })

  const list = await cli('artifacts', 'list', '-d', '3')
  expect(list.code).toBe(0)
  expect(list.stdout).toContain('cli-art-1')
  expect(list.stdout).toContain(listed[0]!.id)
  expect(list.stdout).toContain('dev-cli')

  const conflict = await cli('artifacts', 'upload', '--no-progress', path)
  expect(conflict.code).not.toBe(0)

  const deleted = await cli('artifacts', 'delete', listed[0]!.id)
  expect(deleted.code).toBe(0)
  const after = await cli('artifacts', 'list')
  expect(after.code).toBe(0)
  expect(after.stdout).not.toContain('cli-art-1')
}, 120_000)
