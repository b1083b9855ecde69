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

/**
 * Whether replacing an attribute's rows `before` by `after` can change its device's text: only
 * string values are in it, so a number moving (uptime, free memory) leaves the text as it was.
 */
export const changesText = (
  before: readonly { value: unknown }[],
  after: readonly { value: unknown }[] = [],
): boolean =>
  before.some((row) => typeof row.value === 'string') || after.some((row) => typeof row.value === 'string')

/** A device's body, for the device `d` of `inventory_devices` (the same in the migration). */
const BODY = `coalesce((SELECT group_concat(a.value, ' ') FROM inventory_attributes a
  INDEXED BY inventory_attributes_device JOIN inventory_attribute_names n ON n.id = a.attr
  WHERE a.tenant_id = d.tenant_id AND a.device = d.seq AND typeof(a.value) = 'text'
  AND (n.scope IN ('identity', 'inventory', 'tags') OR (n.scope = 'system' AND n.name = 'group')
  OR (n.scope = '' AND n.name = 'id'))), '')`
const META = `'st' || d.status || ' tn' || hex(d.tenant_id)`

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
 * (scripts/seed.ts writes attribute rows without the store; a bench seeds through it).
 */
export function buildTexts(db: Database, afterSeq: number): void {
  db.$client.transaction(() => {
    db.$client.run(
      `INSERT OR REPLACE INTO inventory_text (rowid, body, meta)
      SELECT d.seq, ${BODY}, ${META} FROM inventory_devices d WHERE d.seq > ?`,
      [afterSeq],
    )
    db.$client.run('DELETE FROM inventory_text_dirty WHERE seq > ?', [afterSeq])
  })()
}

/**
 * The text index's writes. A device whose text may have changed is only marked, in a table, in
 * the transaction of the change (a crash loses no mark); marked devices are reindexed together
 * later (see the inventory service: before a search, and every second), so a device report pays
 * no FTS write and the index gains one segment per batch instead of one per write, which keeps
 * FTS5's segment merges rare and off the device's request.
 */
export function createTextIndex(db: Database) {
  const sqlite = db.$client
  const mark = sqlite.query('INSERT OR IGNORE INTO inventory_text_dirty (seq) VALUES (?)')
  const unmark = sqlite.query('DELETE FROM inventory_text_dirty WHERE seq = ?')
  const marked = sqlite.query<{ seq: number }, [number]>(
    'SELECT seq FROM inventory_text_dirty ORDER BY seq LIMIT ?',
  )
  const rebuild = sqlite.query(`INSERT OR REPLACE INTO inventory_text (rowid, body, meta)
    SELECT d.seq, ${BODY}, ${META} FROM inventory_devices d WHERE d.seq = ?`)
  const remove = sqlite.query('DELETE FROM inventory_text WHERE rowid = ?')
  const reindex = sqlite.transaction((limit: number) => {
    const devices = marked.all(limit)
    for (const { seq } of devices) {
      rebuild.run(seq)
      unmark.run(seq)
    }
    return devices.length
  })
  return {
    /** Marks a device; called inside the transaction that changes it. */
    changed(device: number): void {
      mark.run(device)
    },
    /** Called inside the transaction that deletes the device. */
    removed(device: number): void {
      unmark.run(device)
      remove.run(device)
    },
    /**
     * Reindexes up to `limit` marked devices from what is committed (a device deleted meanwhile
     * is skipped); returns how many it took.
     */
    flush: (limit: number): number => reindex(limit),
  }
}

export type TextIndex = ReturnType<typeof createTextIndex>
