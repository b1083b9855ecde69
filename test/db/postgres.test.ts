import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'
import { runPgMigrations } from '../../db/migrate.pg.ts'
import journal from '../../db/migrations-pg/meta/_journal.json' with { type: 'json' }
import { testPostgres } from '../helpers/postgres.ts'
import { ROOT, run, startBender } from '../helpers/server.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'bender-pg-cli-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const bender = (args: string[], databaseUrl: string) =>
  run([process.execPath, 'run', join(ROOT, 'src/main.ts'), ...args], {
    env: { BENDER_DATA_DIR: dataDir, BENDER_DATABASE_URL: databaseUrl },
  })

/** The tables of `url`'s public schema and how many migrations drizzle recorded there. */
async function schemaOf(url: string): Promise<{ tables: string[]; applied: number }> {
  const sql = new SQL(url, { max: 1 })
  try {
    const tables = (await sql`
      SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`) as {
      name: string
    }[]
    const [{ count }] = (await sql`SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations`) as [
      { count: number },
    ]
    return { tables: tables.map((t) => t.name), applied: count }
  } finally {
    await sql.close()
  }
}

describe('BENDER_DATABASE_URL selects PostgreSQL', () => {
  let freePort: number
  beforeAll(() => {
    const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    freePort = server.port
    server.stop(true)
  })

  test('an unreachable server stops the start with a message naming it, never its password', async () => {
    const res = await bender(['serve'], `postgres://bender:s3cret@127.0.0.1:${freePort}/bender`)
    expect(res.code).toBe(2)
    expect(res.stderr).toContain(
      `bender: cannot use the PostgreSQL database postgres://bender:***@127.0.0.1:${freePort}/bender`,
    )
    expect(res.stderr).not.toContain('s3cret')
  })

  test('a database that does not exist stops the start too', async () => {
    const server = await testPostgres()
    const url = server.adminUrl.replace(/\/postgres$/, '/no_such_database')
    const res = await bender(['migrate'], url)
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('cannot use the PostgreSQL database')
    expect(res.stderr).toContain('no_such_database')
  })

  test('backup refuses a PostgreSQL database and names the tools that back it up', async () => {
    const res = await bender(
      ['backup', '--to', '/tmp/never-written'],
      await (await testPostgres()).createDatabase(),
    )
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('pg_dump')
  })

  test('an invalid URL is refused before anything is opened', async () => {
    const res = await bender(['serve'], 'mysql://bender@localhost/bender')
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('BENDER_DATABASE_URL must look like postgres://')
  })

  test('migrate applies the PostgreSQL schema; user and serve then run on it', async () => {
    const url = await (await testPostgres()).createDatabase()
    const migrated = await bender(['migrate'], url)
    expect(migrated.code).toBe(0)
    expect(migrated.stderr).toContain('database migrated')
    const { tables, applied } = await schemaOf(url)
    expect(tables).toContain('events_outbox')
    expect(tables).toContain('deployments_deployments')
    expect(applied).toBe(journal.entries.length)
    const created = await bender(
      ['user', 'create', '--email', 'pg@example.com', '--password', 'pg-password-1'],
      url,
    )
    expect(created.code).toBe(0)
    const server = await startBender({ env: { BENDER_DATABASE_URL: url } })
    try {
      expect((await fetch(`${server.url}/api/internal/v1/useradm/health`)).status).toBe(204)
      const login = await fetch(`${server.url}/api/management/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa('pg@example.com:pg-password-1')}` },
      })
      expect(login.status).toBe(200)
    } finally {
      expect(await server.stop()).toBe(0)
    }
  })
})

describe('PostgreSQL migrations', () => {
  test('several migrators started together on a fresh database apply the schema once', async () => {
    const url = await (await testPostgres()).createDatabase()
    await Promise.all([runPgMigrations(url), runPgMigrations(url), runPgMigrations(url)])
    const { tables, applied } = await schemaOf(url)
    expect(applied).toBe(journal.entries.length)
    expect(tables.length).toBeGreaterThan(20)
    // Again later: nothing left to apply.
    await runPgMigrations(url)
    expect((await schemaOf(url)).applied).toBe(journal.entries.length)
  })

  test('their files are named apart from SQLite migrations, so a binary can embed both', () => {
    const files = readdirSync(join(ROOT, 'db/migrations-pg')).filter((name) => name.endsWith('.sql'))
    expect(files.length).toBe(journal.entries.length)
    for (const name of files) expect(name).toMatch(/^\d{4}_pg_[a-z0-9_]+\.sql$/)
  })
})
