import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'
import { startFauxqs } from 'fauxqs'
import pgJournal from '../../db/migrations-pg/meta/_journal.json' with { type: 'json' }
import { testPostgres } from '../helpers/postgres.ts'
import { ROOT, type RunningServer, run, startBender } from '../helpers/server.ts'

const work = mkdtempSync(join(tmpdir(), 'bender-binary-'))
const binary = join(work, 'bender')
const emptyDir = join(work, 'empty')

beforeAll(async () => {
  const build = await run([process.execPath, join(ROOT, 'scripts/build.ts'), '--outfile', binary], {
    cwd: ROOT,
    timeoutMs: 120_000,
  })
  expect(build.code).toBe(0)
  await Bun.write(join(emptyDir, '.keep'), '')
}, 130_000)
let server: RunningServer | undefined
afterAll(async () => {
  await server?.stop()
  rmSync(work, { recursive: true, force: true })
})

test('the compiled binary runs every command from an empty directory', async () => {
  const dataDir = join(emptyDir, 'data')
  const env = { BENDER_DATA_DIR: dataDir }
  const version = await run([binary, 'version'], { cwd: emptyDir, env })
  expect(version.code).toBe(0)
  expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)

  const created = await run(
    [binary, 'user', 'create', '--email', 'bin@example.com', '--password', 'bin-password'],
    {
      cwd: emptyDir,
      env,
    },
  )
  expect(created.stderr).toBe('')
  expect(created.code).toBe(0)
  expect(created.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/)
  expect(readdirSync(dataDir).sort()).toContain('bender.db')

  const metricsToken = 'binary-metrics-token-1'
  server = await startBender({
    command: [binary, 'serve'],
    cwd: emptyDir,
    dataDir,
    env: { BENDER_METRICS_TOKEN: metricsToken },
  })
  const login = await fetch(`${server.url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa('bin@example.com:bin-password')}` },
  })
  expect(login.status).toBe(200)
  const token = await login.text()
  const me = await fetch(`${server.url}/api/management/v1/useradm/users/me`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(((await me.json()) as { email: string }).email).toBe('bin@example.com')
  // Inventory searches run on a worker thread, which the binary must carry too.
  const search = await fetch(`${server.url}/api/management/v2/inventory/filters/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      filters: [{ scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }],
    }),
  })
  expect(search.status).toBe(200)
  expect(await search.json()).toEqual([])
  // The console is embedded: its page and every asset it names come out of the binary.
  const page = await fetch(`${server.url}/`)
  expect(page.status).toBe(200)
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
  const html = await page.text()
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
  expect(assets.length).toBeGreaterThanOrEqual(2)
  const chunks: string[] = []
  for (const asset of assets) {
    const file = await fetch(`${server.url}${asset}`)
    expect(file.status).toBe(200)
    const text = await file.text()
    expect(text.length).toBeGreaterThan(100)
    chunks.push(...[...text.matchAll(/\/assets\/console-[\w-]+\.js/g)].map((m) => m[0]))
  }
  // The terminal is a chunk the entry script loads on demand: it is in the binary too.
  expect(chunks.some((chunk) => chunk.startsWith('/assets/console-terminal-'))).toBe(true)
  for (const chunk of chunks) expect((await fetch(`${server.url}${chunk}`)).status).toBe(200)
  // The docs UI's script is embedded in the binary, served from bender itself.
  const ui = await fetch(`${server.url}/api/docs/scalar.js`)
  expect(ui.status).toBe(200)
  expect((await ui.text()).length).toBeGreaterThan(100_000)
  // The fleet gauges come from a worker thread, which the binary must carry too.
  const metrics = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${metricsToken}` },
  })
  expect(metrics.status).toBe(200)
  expect(await metrics.text()).toContain('bender_active_deployments 0')
  const backupDir = join(work, 'backup')
  const backedUp = await run([binary, 'backup', '--to', backupDir], { cwd: emptyDir, env })
  expect(backedUp.stderr).toContain('backup written')
  expect(backedUp.code).toBe(0)
  expect(await server.stop()).toBe(0)
  expect(server.output()).toContain('msg=stopped')
  const restoredDir = join(work, 'restored')
  const restored = await run([binary, 'restore', '--from', backupDir, '--data-dir', restoredDir], {
    cwd: emptyDir,
  })
  expect(restored.code).toBe(0)
  expect(readdirSync(restoredDir).sort()).toEqual(['bender.db', 'keys'])
  const again = await run([binary, 'restore', '--from', backupDir, '--data-dir', restoredDir], {
    cwd: emptyDir,
  })
  expect(again.code).toBe(2)
  expect(again.stderr).toContain('is not empty')
}, 60_000)

test('the compiled binary carries the PostgreSQL migrations too', async () => {
  const url = await (await testPostgres()).createDatabase()
  const migrated = await run([binary, 'migrate'], {
    cwd: emptyDir,
    env: { BENDER_DATA_DIR: join(emptyDir, 'pg-data'), BENDER_DATABASE_URL: url },
  })
  expect(migrated.stderr).toContain('database migrated')
  expect(migrated.code).toBe(0)
  const sql = new SQL(url, { max: 1 })
  const [{ count }] = (await sql`SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations`) as [
    { count: number },
  ]
  await sql.close()
  expect(count).toBe(pgJournal.entries.length)
}, 60_000)

test('the compiled binary loads what it loads on first use: S3, the node:http storage proxy, the API doc', async () => {
  // Each is a chunk of its own in the binary (built with code splitting), imported only when used.
  const s3 = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
  const s3Server = await startBender({
    command: [binary, 'serve'],
    cwd: emptyDir,
    env: {
      BENDER_STORAGE: 's3',
      BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      BENDER_S3_BUCKET: `bender-binary-${process.pid}`,
      BENDER_S3_ACCESS_KEY: 'bender',
      BENDER_S3_SECRET_KEY: 'bender-secret',
    },
  })
  try {
    expect(s3Server.output()).toContain('blob_store=s3')
    // With S3 the storage proxy runs on node:http: a path it does not serve is a 4xx, not a crash.
    const refused = await fetch(`${s3Server.storageUrl}/nothing`)
    expect(refused.status).toBeGreaterThanOrEqual(400)
    expect(refused.status).toBeLessThan(500)
    const doc = await fetch(`${s3Server.url}/api/docs/json`)
    expect(doc.status).toBe(200)
    const paths = Object.keys(((await doc.json()) as { paths: Record<string, unknown> }).paths)
    expect(paths).toContain('/api/devices/v1/deployments/device/deployments/next')
  } finally {
    expect(await s3Server.stop()).toBe(0)
    await s3.stop()
  }
}, 60_000)
