import { boolean, index, json, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { int, ms } from '../../../db/pg-columns.ts'
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
    index('inventory_attributes_device').on(t.tenantId, t.device, t.attr, t.value),
    index('inventory_attributes_value').on(t.tenantId, t.attr, t.status, t.value, t.device),
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
