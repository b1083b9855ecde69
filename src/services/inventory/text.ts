import { sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import type { Condition } from './conditions.ts'
import { DEVICE_ID, type NameRow } from './names.ts'

/*
 * Free-text search (the `text` of v2 filters/search), as Mender's inventory does it: a device's
 * text is its id, its group and the string values of its identity, inventory and tags attributes,
 * cut into words of letters and digits; a search matches the devices having any of its words,
 * case- and accent-insensitively, with English stemming ("devices" finds "device").
 *
 * The words live in an FTS5 table keyed by the device's seq (db/migrations/0005). The store marks
 * a device when one of those attributes changes and rebuilds its row once, when its write
 * transaction ends.
 */

const FULL_TEXT_SCOPES = new Set(['identity', 'inventory', 'tags'])

/** Whether an attribute's string values are part of its device's text. */
export const isFullText = (name: Pick<NameRow, 'scope' | 'name'>) =>
  FULL_TEXT_SCOPES.has(name.scope) ||
  (name.scope === 'system' && name.name === 'group') ||
  (name.scope === DEVICE_ID.scope && name.name === DEVICE_ID.name)

/** The same test in SQL, over `inventory_attribute_names` as `n` (as in the migration). */
const FULL_TEXT_NAMES = `(n.scope IN ('identity', 'inventory', 'tags')
  OR (n.scope = 'system' AND n.name = 'group') OR (n.scope = '' AND n.name = 'id'))`

/**
 * Builds the text of the devices whose seq is above `afterSeq` in one statement, for a bulk load
 * that wrote attribute rows without the store (scripts/seed.ts).
 */
export function buildTexts(db: Database, afterSeq: number): void {
  db.$client.run(
    `INSERT OR REPLACE INTO inventory_text (rowid, body) SELECT a.device, group_concat(a.value, ' ')
    FROM inventory_attributes a JOIN inventory_attribute_names n ON n.id = a.attr
    WHERE a.device > ? AND typeof(a.value) = 'text' AND ${FULL_TEXT_NAMES} GROUP BY a.device`,
    [afterSeq],
  )
}

/** The words of a search text: runs of letters and digits; everything else separates them. */
export const keywords = (text: string): string[] => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean)

/**
 * A condition on the hidden id attribute (one row per device) that keeps the devices whose text
 * has one of `words`. It is read through the by-device index: one seek per device found.
 */
export function textCondition(idAttr: number, words: readonly string[]): Condition {
  const query = words.map((word) => `"${word}"`).join(' OR ')
  return {
    attr: idAttr,
    arrays: false,
    negate: false,
    byDevice: true,
    where: (alias) =>
      sql`${sql.raw(`"${alias}"."device"`)} IN (SELECT rowid FROM inventory_text WHERE inventory_text MATCH ${query})`,
  }
}

/** The text index's writes: a device marked as changed is rebuilt once, at `flush`. */
export function createTextIndex(db: Database) {
  const sqlite = db.$client
  const rebuild = sqlite.query(`INSERT OR REPLACE INTO inventory_text (rowid, body)
    SELECT ?1, coalesce(group_concat(a.value, ' '), '') FROM inventory_attributes a
    INDEXED BY inventory_attributes_device JOIN inventory_attribute_names n ON n.id = a.attr
    WHERE a.tenant_id = ?2 AND a.device = ?1 AND typeof(a.value) = 'text' AND ${FULL_TEXT_NAMES}`)
  const remove = sqlite.query('DELETE FROM inventory_text WHERE rowid = ?')
  /** Devices to rebuild: seq → tenant. */
  const changed = new Map<number, string>()
  return {
    changed(tenantId: string, device: number): void {
      changed.set(device, tenantId)
    },
    removed(device: number): void {
      changed.delete(device)
      remove.run(device)
    },
    flush(): void {
      for (const [device, tenantId] of changed) rebuild.run(device, tenantId)
      changed.clear()
    },
    /** Forgets the marks of a write that rolled back. */
    discard(): void {
      changed.clear()
    },
  }
}

export type TextIndex = ReturnType<typeof createTextIndex>
