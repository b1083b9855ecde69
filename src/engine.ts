import { DatabaseError } from '../db/errors.ts'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'

/** The services whose stores run on SQLite only so far: `serve` needs every one on PostgreSQL. */
const SQLITE_ONLY = ['useradm', 'deviceauth', 'inventory', 'deployments', 'artifacts'] as const

/**
 * A command run with BENDER_DATABASE_URL set: connects (an unreachable server, a refused login or
 * a missing database stops here with a DatabaseError naming the server) and applies PostgreSQL's
 * migrations under the migration lock. `migrate` is then done; the other commands need stores that
 * only SQLite has so far, and say so rather than start half on one engine.
 */
export async function postgresCommand(command: string, config: Config, log: Logger): Promise<void> {
  const url = config.databaseUrl
  if (url === undefined) throw new Error('postgresCommand needs BENDER_DATABASE_URL')
  // Loaded only when selected: a SQLite start never loads the PostgreSQL driver.
  const { runPgMigrations } = await import('../db/migrate.pg.ts')
  const { redactUrl } = await import('../db/pg.ts')
  await runPgMigrations(url)
  log.info('database migrated', { database: redactUrl(new URL(url)) })
  if (command === 'migrate') return
  throw new DatabaseError(
    `"${command}" cannot run on PostgreSQL yet: the stores of ${SQLITE_ONLY.join(', ')} have no PostgreSQL implementation; unset BENDER_DATABASE_URL to run on SQLite`,
  )
}
