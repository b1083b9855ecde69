import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'

/**
 * A throwaway PostgreSQL server for the tests and benches: Debian's binaries, a fresh cluster in a
 * temp dir, listening on loopback only, run as an unprivileged user (PostgreSQL refuses root; as
 * root the cluster belongs to the `postgres` user the Debian package creates). Durability is off:
 * the data dies with the run anyway.
 */
export type TestPostgres = {
  /** The URL of the server's `postgres` database, for administration. */
  adminUrl: string
  /** A new database on the server (empty, or a copy of the database `template` names), answered as its URL. */
  createDatabase(template?: string): Promise<string>
  stop(): void
}

const USER = 'bender'

/** The newest installed major version's bin dir. */
function binDir(): string {
  const root = '/usr/lib/postgresql'
  let versions: string[] = []
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  } catch {}
  if (versions.length === 0)
    throw new Error(`PostgreSQL is not installed (no ${root}); scripts/test installs it`)
  return join(root, versions[0]!, 'bin')
}

/**
 * Runs as the unprivileged owner when this process is root. setpriv execs in place (the pid is the
 * program's own, so a signal reaches it) and has the program sent SIGQUIT (PostgreSQL's immediate
 * shutdown) should this process die without stopping it.
 */
function asOwner(command: string[]): string[] {
  const user = process.getuid?.() === 0 ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : []
  return ['setpriv', ...user, '--pdeathsig', 'SIGQUIT', '--', ...command]
}

function run(command: string[]): void {
  const proc = Bun.spawnSync(asOwner(command), { stdout: 'pipe', stderr: 'pipe' })
  if (proc.exitCode !== 0) throw new Error(`${command[0]} failed: ${proc.stderr.toString()}`)
}

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = server
  server.stop(true)
  return port
}

async function waitReady(url: string, server: { exitCode: number | null }): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error('PostgreSQL exited while starting')
    const sql = new SQL(url, { max: 1, connectionTimeout: 1 })
    try {
      await sql`SELECT 1`
      return
    } catch {
      await Bun.sleep(50)
    } finally {
      await sql.close()
    }
  }
  throw new Error('PostgreSQL did not start within 15 s')
}

/** The tests' settings: no durability (the data dies with the run), room for many pools. */
const TEST_SETTINGS: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '300',
  log_min_messages: 'fatal',
}

export type PostgresOptions = {
  /** Server settings (`-c name=value`) over the tests' own; a bench states its tuning here. */
  settings?: Record<string, string>
  /** The directory the cluster's temp dir is made in (default: the system's temp dir). */
  parent?: string
}

const OWNER = 'owner.pid'

/**
 * Removes the clusters of runs that ended without stopping theirs: `bun test` runs no exit
 * handlers and a killed run runs nothing, so each cluster records the process that made it and
 * the next start sweeps those whose process is gone.
 */
function sweepAbandoned(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith('bender-pg-')) continue
    const dir = join(parent, name)
    let pid: number
    try {
      pid = Number(readFileSync(join(dir, OWNER), 'utf8'))
    } catch {
      continue // not one of ours, or still being made
    }
    if (isAlive(pid)) continue
    rmSync(dir, { recursive: true, force: true })
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Starts a new server (initdb + postgres); `stop` ends it and removes its files. */
export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  const bin = binDir()
  const parent = options.parent ?? tmpdir()
  sweepAbandoned(parent)
  const dir = mkdtempSync(join(parent, 'bender-pg-'))
  writeFileSync(join(dir, OWNER), String(process.pid))
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(Bun.spawnSync(['id', flag, 'postgres']).stdout.toString())
    chownSync(dir, id('-u'), id('-g'))
  }
  const data = join(dir, 'data')
  run([
    join(bin, 'initdb'),
    '-D',
    data,
    '-U',
    USER,
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ])
  const port = await freePort()
  const server = Bun.spawn(
    asOwner([
      join(bin, 'postgres'),
      ...['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir],
      ...Object.entries({ ...TEST_SETTINGS, ...options.settings }).flatMap(([name, value]) => [
        '-c',
        `${name}=${value}`,
      ]),
    ]),
    { stdout: 'ignore', stderr: 'ignore' },
  )
  const stop = () => {
    // SIGQUIT: immediate shutdown; nothing here needs to survive. The files go once the server has
    // let go of them (its lock file is the last it removes), or after 3 s at most (under a test
    // hook's time limit); what a server still writing leaves, the next start's sweep removes.
    server.kill('SIGQUIT')
    const deadline = Date.now() + 3_000
    while (existsSync(join(data, 'postmaster.pid')) && Date.now() < deadline) Bun.sleepSync(20)
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  }
  process.once('exit', stop)
  const base = `postgres://${USER}@127.0.0.1:${port}`
  const adminUrl = `${base}/postgres`
  try {
    await waitReady(adminUrl, server)
  } catch (err) {
    stop()
    throw err
  }
  let count = 0
  return {
    adminUrl,
    async createDatabase(template) {
      const name = `bender_${process.pid}_${++count}`
      const from = template ? ` TEMPLATE ${new URL(template).pathname.slice(1)}` : ''
      const admin = new SQL(adminUrl, { max: 1 })
      try {
        // Copying the files (PostgreSQL 15+) beats logging every block of a small database.
        await admin.unsafe(`CREATE DATABASE ${name}${from} STRATEGY file_copy`)
      } finally {
        await admin.close()
      }
      return `${base}/${name}`
    },
    stop() {
      process.removeListener('exit', stop)
      stop()
    },
  }
}

let shared: Promise<TestPostgres> | undefined

/** One server for the whole test run, started on first use and stopped when the run exits. */
export function testPostgres(): Promise<TestPostgres> {
  shared ??= startPostgres()
  return shared
}

/** Stops the shared server if this run started one (the preload calls it after the last file). */
export async function stopTestPostgres(): Promise<void> {
  if (!shared) return
  const server = shared
  shared = undefined
  ;(await server.catch(() => undefined))?.stop()
}
