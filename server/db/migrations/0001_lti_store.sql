CREATE TABLE "lti_store" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"collection" text NOT NULL,
	"fields" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "lti_store_collection" ON "lti_store" USING btree ("collection");--> statement-breakpoint
CREATE INDEX "lti_store_fields" ON "lti_store" USING gin ("fields" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "lti_store_expiry" ON "lti_store" USING btree ("expires_at");