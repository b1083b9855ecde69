CREATE TABLE `useradm_settings` (
	`tenant_id` text DEFAULT '' NOT NULL,
	`user_id` text NOT NULL,
	`value` text NOT NULL,
	`etag` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `useradm_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`user_id` text NOT NULL,
	`name` text,
	`expires_ts` integer,
	`created_ts` integer NOT NULL,
	`last_used_ts` integer,
	FOREIGN KEY (`user_id`) REFERENCES `useradm_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `useradm_tokens_user` ON `useradm_tokens` (`user_id`,`created_ts`);--> statement-breakpoint
CREATE UNIQUE INDEX `useradm_tokens_name` ON `useradm_tokens` (`tenant_id`,`user_id`,`name`) WHERE "useradm_tokens"."name" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `useradm_users` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text DEFAULT '' NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_ts` integer NOT NULL,
	`updated_ts` integer NOT NULL,
	`login_ts` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `useradm_users_email` ON `useradm_users` (`tenant_id`,`email`);