import { bigint, customType, timestamp } from 'drizzle-orm/pg-core'

/**
 * How SQLite's column kinds map onto PostgreSQL, so every `tables.pg.ts` writes them alike:
 * SQLite's integers are 64-bit, so a plain integer is `bigint` read as a JS number; a millisecond
 * timestamp is `timestamptz(3)`; a JSON text column is `json` (drizzle's own), which keeps the text
 * as written, key order included, as SQLite's text does.
 */
export const int = () => bigint({ mode: 'number' })

export const ms = () => timestamp({ mode: 'date', withTimezone: true, precision: 3 })

/** Bytes (drizzle's pg-core has no `bytea` of its own); both drivers hand a Buffer back. */
export const bytes = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' })

/**
 * Insertion order where SQLite reads its implicit `rowid` (the tie-break of rows created in the
 * same millisecond): PostgreSQL has none, so a table that sorts by it declares this column of the
 * same name, filled by the database and never selected into the SQLite-shaped rows.
 */
export const rowid = () => bigint({ mode: 'number' }).generatedAlwaysAsIdentity().notNull()
