import { type SQL, sql } from 'drizzle-orm'
import {
  boolean,
  customType,
  index,
  jsonb,
  type PgColumn,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core'
import { int, json, ms } from '../../../db/pg-columns.ts'
import type { FilterTerm } from './tables.ts'

/**
 * inventory's tables on PostgreSQL (see tables.ts). An attribute `value` is a JSON scalar (a number
 * or a string), so a number never equals a string, as with SQLite's BLOB affinity.
 */
export const devices = pgTable(
  'inventory_devices',
  {
    seq: int().primaryKey().generatedByDefaultAsIdentity(),
    tenantId: text().notNull().default(''),
    id: text().notNull(),
    status: int().notNull().default(0),
    tagsEtag: text(),
  },
  (t) => [
    uniqueIndex('inventory_devices_id').on(t.tenantId, t.id),
    index('inventory_devices_status').on(t.tenantId, t.status),
  ],
)

export const attributeNames = pgTable(
  'inventory_attribute_names',
  {
    id: int().primaryKey().generatedByDefaultAsIdentity(),
    tenantId: text().notNull().default(''),
    scope: text().notNull(),
    name: text().notNull(),
    arrays: boolean().notNull().default(false),
  },
  (t) => [uniqueIndex('inventory_attribute_names_name').on(t.tenantId, t.scope, t.name)],
)

/**
 * A stored value as SQLite orders it, in two keys: a number (null for strings and the empty-array
 * row) and a string compared byte-wise (`COLLATE "C"`, null for numbers). Ordering by (is there a
 * value, number, string) is SQLite's null < numbers < strings; jsonb's own order puts strings
 * first and follows the database's collation. The search writes these same expressions, so
 * PostgreSQL matches them to the index below.
 */
export const numberOf = (value: PgColumn | SQL) =>
  sql`(CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value})::float8 END)`
export const stringOf = (value: PgColumn | SQL) =>
  sql`(CASE WHEN jsonb_typeof(${value}) = 'string' THEN (${value} #>> '{}') END) COLLATE "C"`
/**
 * The indexed part of a string (a B-tree entry holds at most ~2.7 kB; a value may be 16 KiB): a
 * search states it beside every condition on the whole string, which it implies.
 */
export const STRING_KEY_CHARS = 200
export const stringKeyOf = (value: PgColumn | SQL) =>
  sql`left(${stringOf(value)}, ${sql.raw(String(STRING_KEY_CHARS))})`

export const attributes = pgTable(
  'inventory_attributes',
  {
    tenantId: text().notNull().default(''),
    device: int().notNull(),
    attr: int().notNull(),
    status: int().notNull(),
    idx: int(),
    value: jsonb().$type<string | number>(),
    description: text(),
    /** Unix milliseconds, as in SQLite. */
    timestamp: int(),
  },
  (t) => [
    // Without the value (see STRING_KEY_CHARS): a probe reads the device's few rows of the attribute.
    index('inventory_attributes_device').on(t.tenantId, t.device, t.attr),
    index('inventory_attributes_value').on(
      t.tenantId,
      t.attr,
      t.status,
      numberOf(t.value),
      stringKeyOf(t.value),
      t.device,
    ),
  ],
)

/**
 * `system/check_in_time`, apart from the other attributes (see tables.ts): one row per device that
 * has checked in, the columns and value index of an attribute row's.
 */
export const checkIns = pgTable(
  'inventory_check_ins',
  {
    tenantId: text().notNull().default(''),
    device: int().notNull(),
    attr: int().notNull(),
    status: int().notNull(),
    value: jsonb().$type<string>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.device] }),
    index('inventory_check_ins_value').on(
      t.tenantId,
      t.attr,
      t.status,
      numberOf(t.value),
      stringKeyOf(t.value),
      t.device,
    ),
  ],
)

export const attributeCounts = pgTable(
  'inventory_attribute_counts',
  {
    tenantId: text().notNull().default(''),
    attr: int().notNull(),
    status: int().notNull(),
    devices: int().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.attr, t.status] })],
)

export const savedFilters = pgTable(
  'inventory_saved_filters',
  {
    tenantId: text().notNull().default(''),
    id: text().notNull(),
    name: text().notNull(),
    terms: json().$type<FilterTerm[]>().notNull(),
    created: ms().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex('inventory_saved_filters_name').on(t.tenantId, t.name),
  ],
)

/** PostgreSQL's text search type (drizzle's pg-core has none). */
const tsvector = customType<{ data: string; driverData: string }>({ dataType: () => 'tsvector' })

/**
 * The free-text index (SQLite keeps its counterpart, an FTS5 table of the same name, outside
 * Drizzle: db/migrations/0005): one row per device with its words as cut and stemmed by the
 * tokenizer SQLite's index uses (see text.words.ts), looked up through a GIN index.
 */
export const deviceText = pgTable(
  'inventory_text',
  {
    seq: int().primaryKey(),
    words: tsvector().notNull(),
  },
  (t) => [index('inventory_text_words').using('gin', t.words)],
)
