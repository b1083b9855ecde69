CREATE TABLE `deviceconfig_devices` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`id` text NOT NULL,
	`configured` text NOT NULL,
	`reported` text NOT NULL,
	`deployment_id` text,
	`updated_ts` integer NOT NULL,
	`reported_ts` integer,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `iot_manager_deliveries` (
	`event_id` text NOT NULL,
	`integration_id` text NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`seq` integer NOT NULL,
	`subject` text NOT NULL,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_ts` integer NOT NULL,
	`status_code` integer,
	`error` text,
	PRIMARY KEY(`event_id`, `integration_id`),
	FOREIGN KEY (`event_id`) REFERENCES `iot_manager_events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `iot_manager_deliveries_pending` ON `iot_manager_deliveries` (`state`,`integration_id`,`subject`,`seq`);--> statement-breakpoint
CREATE INDEX `iot_manager_deliveries_integration` ON `iot_manager_deliveries` (`integration_id`,`seq`);--> statement-breakpoint
CREATE TABLE `iot_manager_integrations` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`provider` text NOT NULL,
	`url` text NOT NULL,
	`secret` text,
	`description` text DEFAULT '' NOT NULL,
	`event_types` text NOT NULL,
	`created_ts` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `iot_manager_integrations_tenant` ON `iot_manager_integrations` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `iot_manager_events` (
	`id` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`time` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `iot_manager_events_tenant` ON `iot_manager_events` (`tenant_id`,`seq`);--> statement-breakpoint
CREATE INDEX `iot_manager_events_time` ON `iot_manager_events` (`time`);--> statement-breakpoint
CREATE TABLE `events_cursors` (
	`name` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `type` text DEFAULT 'software' NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `configuration` text;