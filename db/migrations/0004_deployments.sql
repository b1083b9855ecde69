CREATE TABLE `deployments_deployment_devices` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`device_id` text NOT NULL,
	`created` integer NOT NULL,
	`deployment_id` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `device_id`, `created`, `deployment_id`)
);
--> statement-breakpoint
CREATE INDEX `deployments_deployment_devices_deployment` ON `deployments_deployment_devices` (`tenant_id`,`deployment_id`);--> statement-breakpoint
CREATE TABLE `deployments_device_logs` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`deployment_id` text NOT NULL,
	`device_id` text NOT NULL,
	`messages` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `deployment_id`, `device_id`)
);
--> statement-breakpoint
CREATE TABLE `deployments_deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`name` text NOT NULL,
	`artifact_name` text NOT NULL,
	`created` integer NOT NULL,
	`finished` integer,
	`status` text NOT NULL,
	`device_count` integer DEFAULT 0 NOT NULL,
	`max_devices` integer NOT NULL,
	`all_devices` integer DEFAULT false NOT NULL,
	`force_installation` integer DEFAULT false NOT NULL,
	`artifacts` text NOT NULL,
	`groups` text NOT NULL,
	`target` text NOT NULL,
	`checksum` text NOT NULL,
	`total_size` integer DEFAULT 0 NOT NULL,
	`stat_success` integer DEFAULT 0 NOT NULL,
	`stat_pending` integer DEFAULT 0 NOT NULL,
	`stat_downloading` integer DEFAULT 0 NOT NULL,
	`stat_rebooting` integer DEFAULT 0 NOT NULL,
	`stat_installing` integer DEFAULT 0 NOT NULL,
	`stat_failure` integer DEFAULT 0 NOT NULL,
	`stat_noartifact` integer DEFAULT 0 NOT NULL,
	`stat_already_installed` integer DEFAULT 0 NOT NULL,
	`stat_aborted` integer DEFAULT 0 NOT NULL,
	`stat_pause_before_installing` integer DEFAULT 0 NOT NULL,
	`stat_pause_before_committing` integer DEFAULT 0 NOT NULL,
	`stat_pause_before_rebooting` integer DEFAULT 0 NOT NULL,
	`stat_decommissioned` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_deployments_created` ON `deployments_deployments` (`tenant_id`,`created`);--> statement-breakpoint
CREATE INDEX `deployments_deployments_artifact_name` ON `deployments_deployments` (`tenant_id`,`artifact_name`);--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_deployments_active` ON `deployments_deployments` (`tenant_id`,`checksum`) WHERE finished IS NULL;--> statement-breakpoint
CREATE TABLE `deployments_device_deployments` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`deployment_id` text NOT NULL,
	`device_id` text NOT NULL,
	`status` integer NOT NULL,
	`active` integer NOT NULL,
	`created` integer NOT NULL,
	`started` integer,
	`finished` integer,
	`deleted` integer,
	`substate` text,
	`log` integer DEFAULT false NOT NULL,
	`artifact_id` text,
	`request` text
);
--> statement-breakpoint
CREATE INDEX `deployments_device_deployments_device` ON `deployments_device_deployments` (`tenant_id`,`device_id`,`deployment_id`);--> statement-breakpoint
CREATE INDEX `deployments_device_deployments_deployment` ON `deployments_device_deployments` (`tenant_id`,`deployment_id`,`status`,`device_id`);--> statement-breakpoint
CREATE INDEX `deployments_device_deployments_active` ON `deployments_device_deployments` (`tenant_id`,`device_id`,`created`) WHERE active = 1;--> statement-breakpoint
CREATE INDEX `deployments_device_deployments_last` ON `deployments_device_deployments` (`tenant_id`,`device_id`,`created`) WHERE active = 0 AND deleted IS NULL;--> statement-breakpoint
ALTER TABLE `deviceauth_tokens` DROP COLUMN `check_in_ts`;