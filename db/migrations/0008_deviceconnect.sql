CREATE TABLE `deviceconnect_devices` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`device_id` text NOT NULL,
	`status` text NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`created_ts` integer NOT NULL,
	`updated_ts` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `device_id`)
);
--> statement-breakpoint
CREATE TABLE `deviceconnect_recordings` (
	`session_id` text NOT NULL,
	`seq` integer NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`created_ts` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`session_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `deviceconnect_recordings_created` ON `deviceconnect_recordings` (`created_ts`);--> statement-breakpoint
CREATE TABLE `deviceconnect_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`user_id` text NOT NULL,
	`device_id` text NOT NULL,
	`kind` text NOT NULL,
	`start_ts` integer NOT NULL,
	`end_ts` integer,
	`end` text NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`recorded_bytes` integer DEFAULT 0 NOT NULL,
	`path` text
);
--> statement-breakpoint
CREATE INDEX `deviceconnect_sessions_tenant_start` ON `deviceconnect_sessions` (`tenant_id`,`start_ts`);--> statement-breakpoint
CREATE INDEX `deviceconnect_sessions_device` ON `deviceconnect_sessions` (`tenant_id`,`device_id`,`start_ts`);--> statement-breakpoint
CREATE INDEX `deviceconnect_sessions_user` ON `deviceconnect_sessions` (`tenant_id`,`user_id`,`start_ts`);