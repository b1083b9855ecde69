CREATE TABLE `inventory_check_ins` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`device` integer NOT NULL,
	`attr` integer NOT NULL,
	`status` integer NOT NULL,
	`value` blob NOT NULL,
	PRIMARY KEY(`tenant_id`, `device`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `inventory_check_ins_value` ON `inventory_check_ins` (`tenant_id`,`attr`,`status`,`value`,`device`);
--> statement-breakpoint
-- Added by hand (drizzle-kit writes neither): WITHOUT ROWID above, and moving the check-in times
-- out of the attribute rows. The counts in inventory_attribute_counts stay as they are.
INSERT INTO `inventory_check_ins` (`tenant_id`, `device`, `attr`, `status`, `value`)
SELECT a.`tenant_id`, a.`device`, a.`attr`, max(a.`status`), max(a.`value`) FROM `inventory_attributes` a
JOIN `inventory_attribute_names` n ON n.`id` = a.`attr`
WHERE n.`scope` = 'system' AND n.`name` = 'check_in_time' AND a.`value` IS NOT NULL
GROUP BY a.`tenant_id`, a.`device`, a.`attr`;
--> statement-breakpoint
DELETE FROM `inventory_attributes` WHERE `attr` IN
(SELECT `id` FROM `inventory_attribute_names` WHERE `scope` = 'system' AND `name` = 'check_in_time');
