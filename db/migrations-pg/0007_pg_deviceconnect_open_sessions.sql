CREATE TABLE "deviceconnect_open_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"user_id" text NOT NULL,
	"device_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"expires_ts" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "deviceconnect_open_sessions_user" ON "deviceconnect_open_sessions" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE INDEX "deviceconnect_open_sessions_device" ON "deviceconnect_open_sessions" USING btree ("tenant_id","device_id");--> statement-breakpoint
CREATE INDEX "deviceconnect_open_sessions_expires" ON "deviceconnect_open_sessions" USING btree ("expires_ts");