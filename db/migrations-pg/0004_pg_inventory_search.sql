CREATE TABLE "inventory_text" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"words" "tsvector" NOT NULL
);
--> statement-breakpoint
DROP INDEX "inventory_attributes_device";--> statement-breakpoint
DROP INDEX "inventory_attributes_value";--> statement-breakpoint
CREATE INDEX "inventory_text_words" ON "inventory_text" USING gin ("words");--> statement-breakpoint
CREATE INDEX "inventory_attributes_device" ON "inventory_attributes" USING btree ("tenant_id","device","attr");--> statement-breakpoint
CREATE INDEX "inventory_attributes_value" ON "inventory_attributes" USING btree ("tenant_id","attr","status",(CASE WHEN jsonb_typeof("value") = 'number' THEN ("value")::float8 END),left((CASE WHEN jsonb_typeof("value") = 'string' THEN ("value" #>> '{}') END) COLLATE "C", 200),"device");