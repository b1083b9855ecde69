-- Free-text search over devices (v2 filters/search "text"): one row per device, keyed by its seq.
-- body: the string values of its identity, inventory and tags attributes, its group and its id.
-- meta: "st<status code> tn<hex of tenant id>", so that a search is limited by the index itself.
-- Contentless: only the index is kept; a row is rebuilt from inventory_attributes on change.
CREATE VIRTUAL TABLE `inventory_text` USING fts5(body, meta, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `inventory_text` (rowid, body, meta)
SELECT d.seq,
  coalesce((SELECT group_concat(a.value, ' ') FROM `inventory_attributes` a
    JOIN `inventory_attribute_names` n ON n.id = a.attr
    WHERE a.tenant_id = d.tenant_id AND a.device = d.seq AND typeof(a.value) = 'text'
      AND (n.scope IN ('identity', 'inventory', 'tags') OR (n.scope = 'system' AND n.name = 'group') OR (n.scope = '' AND n.name = 'id'))), ''),
  'st' || d.status || ' tn' || hex(d.tenant_id)
FROM `inventory_devices` d;
--> statement-breakpoint
-- Devices whose text changed and is not reindexed yet: marked in the same transaction as the
-- change, so a crash between the change and the reindex loses nothing.
CREATE TABLE `inventory_text_dirty` (`seq` integer PRIMARY KEY NOT NULL);
