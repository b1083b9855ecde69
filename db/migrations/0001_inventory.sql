CREATE TABLE `inventory_attribute_counts` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`attr` integer NOT NULL,
	`status` integer NOT NULL,
	`devices` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `attr`, `status`)
);
--> statement-breakpoint
CREATE TABLE `inventory_attribute_names` (
	`id` integer PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`scope` text NOT NULL,
	`name` text NOT NULL,
	`arrays` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inventory_attribute_names_name` ON `inventory_attribute_names` (`tenant_id`,`scope`,`name`);--> statement-breakpoint
CREATE TABLE `inventory_attributes` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`device` integer NOT NULL,
	`attr` integer NOT NULL,
	`status` integer NOT NULL,
	`idx` integer,
	`value` blob,
	`description` text,
	`timestamp` integer
);
--> statement-breakpoint
CREATE INDEX `inventory_attributes_device` ON `inventory_attributes` (`tenant_id`,`device`,`attr`,`value`);--> statement-breakpoint
CREATE INDEX `inventory_attributes_value` ON `inventory_attributes` (`tenant_id`,`attr`,`status`,`value`,`device`);--> statement-breakpoint
CREATE TABLE `inventory_devices` (
	`seq` integer PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`id` text NOT NULL,
	`status` integer DEFAULT 0 NOT NULL,
	`tags_etag` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inventory_devices_id` ON `inventory_devices` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `inventory_devices_status` ON `inventory_devices` (`tenant_id`,`status`);