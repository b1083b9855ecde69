import { SQL } from 'bun'
import { type BunSQLDatabase, drizzle } from 'drizzle-orm/bun-sql'
import { DatabaseError } from './errors.ts'

/**
 * PostgreSQL through Bun's built-in client (see the README's Decisions for why not the `postgres`
 * driver): one pool per process, Drizzle over it with the same snake_case naming as SQLite.
 */
export type PgDatabase = BunSQLDatabase & { $client: SQL }

/** A transaction handle inside a PostgreSQL store method: what `db.transaction` hands its callback. */
export type PgTransaction = Parameters<Parameters<PgDatabase['transaction']>[0]>[0]

/** The URL without its password, for messages and logs. */
export function redactUrl(url: URL): string {
  const shown = new URL(url.href)
  if (shown.password) shown.password = '***'
  return shown.href
}

/** How long a start waits for the server before saying it is unreachable. */
const CONNECT_TIMEOUT_SECONDS = 10

/**
 * Opens a pool on `url` and makes one round trip, so an unreachable server, a refused login or a
 * missing database stops the start with a message naming the server (never its password).
 */
export async function openPgDatabase(url: string, options: { max?: number } = {}): Promise<PgDatabase> {
  const client = new SQL({ url, max: options.max ?? 10, connectionTimeout: CONNECT_TIMEOUT_SECONDS })
  try {
    await client`SELECT 1`
  } catch (err) {
    await client.close({ timeout: 0 })
    const reason = err instanceof Error ? err.message : String(err)
    throw new DatabaseError(`cannot use the PostgreSQL database ${redactUrl(new URL(url))}: ${reason}`)
  }
  return drizzle({ client, casing: 'snake_case' }) as PgDatabase
}

/** A cheap round trip that fails when the server is unusable. */
export async function pingPgDatabase(db: PgDatabase): Promise<boolean> {
  try {
    await db.$client`SELECT 1`
    return true
  } catch {
    return false
  }
}
