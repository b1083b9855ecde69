ALTER TABLE `deployments_deployment_devices` ADD `position` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Lists written before the column keep the order they were inserted in.
UPDATE `deployments_deployment_devices` SET `position` = rowid;
