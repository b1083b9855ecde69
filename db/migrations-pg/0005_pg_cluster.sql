CREATE TABLE "cluster_device_holders" (
	"tenant_id" text NOT NULL,
	"device_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"since" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "cluster_device_holders_tenant_id_device_id_pk" PRIMARY KEY("tenant_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "cluster_login_throttle" (
	"key" text PRIMARY KEY NOT NULL,
	"failures" integer NOT NULL,
	"locked_until" bigint NOT NULL,
	"last_failure" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "cluster_login_throttle_last_failure" ON "cluster_login_throttle" USING btree ("last_failure");