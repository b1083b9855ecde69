CREATE TABLE `deployments_artifact_depends` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`name` text NOT NULL,
	`combination` text NOT NULL,
	`artifact_id` text NOT NULL,
	FOREIGN KEY (`artifact_id`) REFERENCES `deployments_artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_artifact_depends_unique` ON `deployments_artifact_depends` (`tenant_id`,`name`,`combination`);--> statement-breakpoint
CREATE INDEX `deployments_artifact_depends_artifact` ON `deployments_artifact_depends` (`artifact_id`);--> statement-breakpoint
CREATE TABLE `deployments_artifacts` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`device_types` text NOT NULL,
	`info` text NOT NULL,
	`signed` integer NOT NULL,
	`updates` text NOT NULL,
	`provides` text,
	`depends` text NOT NULL,
	`clears_provides` text,
	`size` integer NOT NULL,
	`modified` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_artifacts_name` ON `deployments_artifacts` (`tenant_id`,`name`);--> statement-breakpoint
CREATE TABLE `deployments_releases` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`name` text NOT NULL,
	`modified` integer NOT NULL,
	`tags` text NOT NULL,
	`notes` text DEFAULT '' NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `deployments_upload_intents` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`status` text NOT NULL,
	`created_ts` integer NOT NULL,
	`expires_ts` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_upload_intents_tenant` ON `deployments_upload_intents` (`tenant_id`,`status`);