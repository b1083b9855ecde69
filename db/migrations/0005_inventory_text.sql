-- Free-text search over devices (v2 filters/search "text"): one row per device, keyed by its seq,
-- holding the string values of its identity, inventory and tags attributes, its group and its id.
-- Contentless: only the index is kept; the text is rebuilt from inventory_attributes on change.
CREATE VIRTUAL TABLE `inventory_text` USING fts5(body, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `inventory_text` (rowid, body)
SELECT a.device, group_concat(a.value, ' ')
FROM `inventory_attributes` a JOIN `inventory_attribute_names` n ON n.id = a.attr
WHERE typeof(a.value) = 'text'
  AND (n.scope IN ('identity', 'inventory', 'tags') OR (n.scope = 'system' AND n.name = 'group') OR (n.scope = '' AND n.name = 'id'))
GROUP BY a.device;
