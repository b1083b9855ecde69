ALTER TABLE "deployments_upload_intents" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "deployments_upload_intents" ADD COLUMN "claimed_until" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "deployments_upload_intents_claim" ON "deployments_upload_intents" USING btree ("status","claimed_until");