import { afterAll, describe, expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { ROOT, run } from '../helpers/server.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'bender-cli-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const bender = (args: string[], env: Record<string, string> = {}) =>
  run([process.execPath, 'run', join(ROOT, 'src/main.ts'), ...args], {
    env: { BENDER_DATA_DIR: dataDir, ...env },
  })

describe('command line', () => {
  test('version prints the package version', async () => {
    const pkg = await Bun.file(join(ROOT, 'package.json')).json()
    const res = await bender(['version'])
    expect(res.code).toBe(0)
    expect(res.stdout.trim()).toBe(pkg.version)
  })

  test('migrate creates the database and says so', async () => {
    const res = await bender(['migrate'])
    expect(res.code).toBe(0)
    expect(res.stderr).toContain('database migrated')
    expect(await Bun.file(join(dataDir, 'bender.db')).exists()).toBe(true)
  })

  test('user create prints the new id, validates like the API, refuses duplicates', async () => {
    const created = await bender([
      'user',
      'create',
      '--email',
      'Ops@Example.com',
      '--password',
      'ops-password',
    ])
    expect(created.code).toBe(0)
    expect(created.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/)
    const dup = await bender(['user', 'create', '--email', 'ops@example.com', '--password', 'ops-password'])
    expect(dup.code).toBe(1)
    expect(dup.stderr).toContain('user with a given email already exists')
    const short = await bender(['user', 'create', '--email', 'x@example.com', '--password', 'short'])
    expect(short.code).toBe(1)
    expect(short.stderr).toContain('password: must be minimum 8 characters long')
    const missing = await bender(['user', 'create', '--email', 'x@example.com'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('usage: bender user create')
  })

  test('user set-password changes the password of an existing user only', async () => {
    const ok = await bender([
      'user',
      'set-password',
      '--email',
      'ops@example.com',
      '--password',
      'new-ops-password',
    ])
    expect(ok.code).toBe(0)
    const db = openDatabase(join(dataDir, 'bender.db'))
    const row = db.$client
      .query('SELECT password_hash AS hash FROM useradm_users WHERE email = ?')
      .get('ops@example.com') as { hash: string }
    db.$client.close()
    expect(await Bun.password.verify('new-ops-password', row.hash)).toBe(true)
    expect(await Bun.password.verify('ops-password', row.hash)).toBe(false)
    const unknown = await bender([
      'user',
      'set-password',
      '--email',
      'ghost@example.com',
      '--password',
      'whatever-1',
    ])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('user not found')
  })

  test('unknown commands and invalid settings stop with a clear message', async () => {
    const unknown = await bender(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "frobnicate"')
    const badPort = await bender(['migrate'], { BENDER_API_PORT: 'eighty' })
    expect(badPort.code).toBe(2)
    expect(badPort.stderr).toContain('BENDER_API_PORT must be an integer')
  })

  test('an RSA BENDER_JWT_KEY under 2048 bits stops every start, before a login could fail on it', async () => {
    const weak = join(dataDir, 'weak.pem')
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
    writeFileSync(weak, privateKey.export({ type: 'pkcs8', format: 'pem' }))
    const result = await bender(['migrate'], { BENDER_JWT_KEY: weak })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('BENDER_JWT_KEY: an RSA key needs at least 2048 bits, this one has 1024')
  })
})
