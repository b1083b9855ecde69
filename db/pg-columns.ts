import { bigint, customType, timestamp } from 'drizzle-orm/pg-core'

/**
 * How SQLite's column kinds map onto PostgreSQL, so every `tables.pg.ts` writes them alike:
 * SQLite's integers are 64-bit, so a plain integer is `bigint` read as a JS number; a millisecond
 * timestamp is `timestamptz(3)`; a JSON text column is `json` (below), which keeps the text as
 * written, key order included, as SQLite's text does.
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

/**
 * A `json` column whose values go to Bun's client as they are. Bun encodes a parameter of a json
 * column with JSON.stringify and parses json results itself; drizzle's own `json` stringifies first,
 * so the database would hold every value as a JSON string of its text (`"[\"a\"]"`), which reads
 * back right but which no JSON function or operator in SQL can look into.
 */
export const json = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => 'json',
  toDriver: (value) => value,
  fromDriver: (value) => value,
})
