ALTER TABLE `deployments_upload_intents` ADD `claimed_by` text;--> statement-breakpoint
ALTER TABLE `deployments_upload_intents` ADD `claimed_until` integer;--> statement-breakpoint
CREATE INDEX `deployments_upload_intents_claim` ON `deployments_upload_intents` (`status`,`claimed_until`);