import { type SQL, sql } from 'drizzle-orm'
import type { Database } from '../../../db/client.ts'
import type { Condition } from './conditions.ts'
import { DEVICE_ID, type NameRow } from './names.ts'

/*
 * Free-text search (the `text` of v2 filters/search), as Mender's inventory does it: a device's
 * text is its id, its group and the string values of its identity, inventory and tags attributes,
 * cut into words of letters and digits; a search matches the devices having any of its words,
 * case- and accent-insensitively, with English stemming ("devices" finds "device").
 *
 * The words live in an FTS5 table keyed by the device's seq (db/migrations/0005), in column
 * `body`; column `meta` holds two words of the device's own, `st<status code>` and
 * `tn<hex of tenant id>`, so that the index alone answers "devices of this tenant in these
 * statuses having one of these words", counted in milliseconds however many match. The store
 * marks a device whose text or status changes and rebuilds its row once, when the write ends.
 */

const FULL_TEXT_SCOPES = new Set(['identity', 'inventory', 'tags'])

/** Whether an attribute's string values are part of its device's text. */
export const isFullText = (name: Pick<NameRow, 'scope' | 'name'>) =>
  FULL_TEXT_SCOPES.has(name.scope) ||
  (name.scope === 'system' && name.name === 'group') ||
  (name.scope === DEVICE_ID.scope && name.name === DEVICE_ID.name)

/** A device's body, for the device `d` of `inventory_devices` (the same in the migration). */
const BODY = `coalesce((SELECT group_concat(a.value, ' ') FROM inventory_attributes a
  INDEXED BY inventory_attributes_device JOIN inventory_attribute_names n ON n.id = a.attr
  WHERE a.tenant_id = d.tenant_id AND a.device = d.seq AND typeof(a.value) = 'text'
  AND (n.scope IN ('identity', 'inventory', 'tags') OR (n.scope = 'system' AND n.name = 'group')
  OR (n.scope = '' AND n.name = 'id'))), '')`
const META = `'st' || d.status || ' tn' || hex(d.tenant_id)`

/** The words of a search text: runs of letters and digits; everything else separates them. */
export const keywords = (text: string): string[] => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean)

const quoted = (words: readonly string[]) => words.map((word) => `"${word}"`).join(' OR ')

/** The devices of `tenantId` in `statuses` whose text has one of `words`. */
export function textCondition(
  words: readonly string[],
  tenantId: string,
  statuses: readonly number[],
): Condition {
  const tenant = `tn${Buffer.from(tenantId, 'utf8').toString('hex')}`
  const query = `{body} : (${quoted(words)}) AND {meta} : (${quoted(statuses.map((s) => `st${s}`))}) AND {meta} : "${tenant}"`
  const devices: SQL = sql`SELECT rowid AS dev FROM inventory_text WHERE inventory_text MATCH ${query}`
  return { attr: -1, arrays: false, negate: false, where: () => sql`0`, devices }
}

/**
 * Builds the text of the devices whose seq is above `afterSeq` in one statement, for a bulk load
 * that wrote attribute rows without the store (scripts/seed.ts).
 */
export function buildTexts(db: Database, afterSeq: number): void {
  db.$client.run(
    `INSERT OR REPLACE INTO inventory_text (rowid, body, meta)
    SELECT d.seq, ${BODY}, ${META} FROM inventory_devices d WHERE d.seq > ?`,
    [afterSeq],
  )
}

/**
 * The text index's writes. A device whose text may have changed is only marked; the marked ones
 * are rebuilt together at `flush` (before every search, and every second), in one transaction:
 * a device report pays no FTS write, and the index gains one segment per flush instead of one per
 * write, which keeps FTS5's segment merges rare and off the device's request.
 */
export function createTextIndex(db: Database) {
  const sqlite = db.$client
  const rebuild = sqlite.query(`INSERT OR REPLACE INTO inventory_text (rowid, body, meta)
    SELECT d.seq, ${BODY}, ${META} FROM inventory_devices d WHERE d.seq = ?`)
  const remove = sqlite.query('DELETE FROM inventory_text WHERE rowid = ?')
  let changed = new Set<number>()
  const rebuildAll = sqlite.transaction((devices: Set<number>) => {
    for (const device of devices) rebuild.run(device)
  })
  return {
    changed(device: number): void {
      changed.add(device)
    },
    /** Called inside the transaction that deletes the device. */
    removed(device: number): void {
      changed.delete(device)
      remove.run(device)
    },
    /**
     * Rebuilds marked devices from what is committed (a device gone meanwhile is skipped), at
     * most `limit` of them; the rest stay marked.
     */
    flush(limit = Number.POSITIVE_INFINITY): void {
      if (changed.size === 0) return
      let devices = changed
      changed = new Set()
      if (devices.size > limit) {
        const all = [...devices]
        devices = new Set(all.slice(0, limit))
        changed = new Set(all.slice(limit))
      }
      try {
        rebuildAll(devices)
      } catch (error) {
        for (const device of devices) changed.add(device)
        throw error
      }
    },
  }
}

export type TextIndex = ReturnType<typeof createTextIndex>
