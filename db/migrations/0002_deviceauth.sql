CREATE TABLE `deviceauth_auth_sets` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`device_id` text NOT NULL,
	`pubkey` text NOT NULL,
	`status` text NOT NULL,
	`created_ts` integer NOT NULL,
	FOREIGN KEY (`device_id`) REFERENCES `deviceauth_devices`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deviceauth_auth_sets_key` ON `deviceauth_auth_sets` (`device_id`,`pubkey`);--> statement-breakpoint
CREATE TABLE `deviceauth_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`device_id` text NOT NULL,
	`expires_ts` integer NOT NULL,
	`created_ts` integer NOT NULL,
	`check_in_ts` integer NOT NULL,
	FOREIGN KEY (`id`) REFERENCES `deviceauth_auth_sets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `deviceauth_devices` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`identity` text NOT NULL,
	`identity_hash` text NOT NULL,
	`status` text NOT NULL,
	`created_ts` integer NOT NULL,
	`updated_ts` integer NOT NULL,
	`check_in_ts` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deviceauth_devices_identity` ON `deviceauth_devices` (`tenant_id`,`identity_hash`);--> statement-breakpoint
CREATE INDEX `deviceauth_devices_status` ON `deviceauth_devices` (`tenant_id`,`status`,`id`);