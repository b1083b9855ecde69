CREATE TABLE `deployments_phases` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`deployment_id` text NOT NULL,
	`idx` integer NOT NULL,
	`id` text NOT NULL,
	`batch_size` integer,
	`batch_size_devices` integer,
	`start_ts` integer NOT NULL,
	`size` integer NOT NULL,
	`device_count` integer DEFAULT 0 NOT NULL,
	`opened` integer,
	`finished` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`succeeded` integer DEFAULT 0 NOT NULL,
	`held` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`tenant_id`, `deployment_id`, `idx`)
);
--> statement-breakpoint
CREATE INDEX `deployments_phases_due` ON `deployments_phases` (`start_ts`) WHERE opened IS NULL;--> statement-breakpoint
CREATE TABLE `deployments_rollout_log` (
	`seq` integer PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`deployment_id` text NOT NULL,
	`time` integer NOT NULL,
	`kind` text NOT NULL,
	`phase` integer,
	`reason` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_rollout_log_deployment` ON `deployments_rollout_log` (`tenant_id`,`deployment_id`,`seq`);--> statement-breakpoint
CREATE TABLE `inventory_saved_filters` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`terms` text NOT NULL,
	`created` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inventory_saved_filters_name` ON `inventory_saved_filters` (`tenant_id`,`name`);--> statement-breakpoint
ALTER TABLE `deployments_deployment_devices` ADD `phase` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `phase_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `open_phases` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `retries` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `policy` text;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `paused_at` integer;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `pause_reason` text;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `gate_tripped` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `dynamic` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `filter` text;--> statement-breakpoint
ALTER TABLE `deployments_deployments` ADD `initial_device_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_device_deployments` ADD `phase` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_device_deployments` ADD `attempts` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `deployments_device_deployments` ADD `timed_out` integer DEFAULT false NOT NULL;