import {
  customType,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core'

/**
 * A column with BLOB affinity: SQLite stores numbers as numbers and strings as text without
 * converting either, and orders them as Mender's store does (null, then numbers, then strings,
 * strings byte-wise). A number never equals a string, so `$eq: 5` does not match "5".
 */
const scalar = customType<{ data: string | number; driverData: string | number }>({
  dataType: () => 'blob',
})

/**
 * One row per device. `seq` is the compact key every attribute row carries (a UUID would make the
 * value index three times larger); `status` is the device's auth status as a small code (see
 * model.ts), copied onto its attribute rows so that a search inside one status is a single index
 * range (Mender's own indexes lead with the identity status for the same reason).
 */
export const devices = sqliteTable(
  'inventory_devices',
  {
    seq: integer().primaryKey(),
    tenantId: text().notNull().default(''),
    id: text().notNull(),
    status: integer().notNull().default(0),
    /** Changes on every tags write; `If-Match` is checked against it. */
    tagsEtag: text(),
  },
  (t) => [
    uniqueIndex('inventory_devices_id').on(t.tenantId, t.id),
    index('inventory_devices_status').on(t.tenantId, t.status),
  ],
)

/** Attribute names, interned per tenant: rows and index entries carry a small integer instead. */
export const attributeNames = sqliteTable(
  'inventory_attribute_names',
  {
    id: integer().primaryKey(),
    tenantId: text().notNull().default(''),
    scope: text().notNull(),
    name: text().notNull(),
    /**
     * Set once any device stores an array under this name: a device may then have several value
     * rows for it, and searches on it count distinct devices.
     */
    arrays: integer({ mode: 'boolean' }).notNull().default(false),
  },
  (t) => [uniqueIndex('inventory_attribute_names_name').on(t.tenantId, t.scope, t.name)],
)

/**
 * Every attribute of every device, one row per scalar value or array element (so an array matches
 * `$eq` when any element does, as in Mongo). `idx` is null for a scalar, the element's position
 * for an array element, and -1 for the single row of an empty array (value null).
 *
 * Two covering indexes serve every read: by device (render a device, probe one device's value)
 * and by value (filters, counts and sorted walks: tenant, attribute, status, value, device).
 */
export const attributes = sqliteTable(
  'inventory_attributes',
  {
    tenantId: text().notNull().default(''),
    device: integer().notNull(),
    attr: integer().notNull(),
    status: integer().notNull(),
    idx: integer(),
    value: scalar(),
    description: text(),
    /**
     * Unix milliseconds, set by the server on tags. A plain integer: the prepared insert binds null
     * for every other attribute, which the timestamp mode cannot encode.
     */
    timestamp: integer(),
  },
  (t) => [
    index('inventory_attributes_device').on(t.tenantId, t.device, t.attr, t.value),
    index('inventory_attributes_value').on(t.tenantId, t.attr, t.status, t.value, t.device),
  ],
)

/**
 * `system/check_in_time`, one row per device that has checked in, apart from the other attributes:
 * it moves on every device request (written in batches, see deviceauth's checkins.ts), so a
 * check-in rewrites one short row here (WITHOUT ROWID in the migration: the key is the row) and
 * one entry of the value index, whose new entry lands at its end (times arrive in order), instead
 * of an attribute row and both of its indexes. The columns are named as the attribute rows' so
 * that a search reads either table through the same SQL (see search.sql.ts); `attr` is the
 * tenant's `system/check_in_time` name and `status` the device's, as on attribute rows.
 */
export const checkIns = sqliteTable(
  'inventory_check_ins',
  {
    tenantId: text().notNull().default(''),
    device: integer().notNull(),
    attr: integer().notNull(),
    status: integer().notNull(),
    /** BLOB affinity like an attribute value, so that comparisons with numbers behave alike. */
    value: scalar().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.device] }),
    index('inventory_check_ins_value').on(t.tenantId, t.attr, t.status, t.value, t.device),
  ],
)

/** The columns of an attribute row as writers and renderers read it. */
export const attributeRowColumns = {
  device: attributes.device,
  attr: attributes.attr,
  idx: attributes.idx,
  value: attributes.value,
  description: attributes.description,
  timestamp: attributes.timestamp,
}

/**
 * How many devices of each status have each attribute, kept in step with every write. It answers
 * "how many devices in this status" (the hidden device-id attribute is on every device), whether
 * a sort attribute is missing on some devices, the filterable attributes list and the statistics,
 * each in one lookup instead of a count over a million index entries.
 */
export const attributeCounts = sqliteTable(
  'inventory_attribute_counts',
  {
    tenantId: text().notNull().default(''),
    attr: integer().notNull(),
    status: integer().notNull(),
    devices: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.attr, t.status] })],
)

/** A saved filter term, as Mender's `FilterPredicate`. */
export type FilterTerm = { scope: string; attribute: string; type: string; value: unknown }

/** Saved filters ("dynamic groups"): a name unique per tenant and the terms of a device search. */
export const savedFilters = sqliteTable(
  'inventory_saved_filters',
  {
    tenantId: text().notNull().default(''),
    id: text().notNull(),
    name: text().notNull(),
    terms: text({ mode: 'json' }).$type<FilterTerm[]>().notNull(),
    created: integer({ mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex('inventory_saved_filters_name').on(t.tenantId, t.name),
  ],
)
