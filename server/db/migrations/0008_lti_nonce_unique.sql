DELETE FROM "lti_store" a USING "lti_store" b WHERE a."collection" = 'nonce' AND b."collection" = 'nonce' AND (a."fields" ->> 'nonce') = (b."fields" ->> 'nonce') AND a."id" > b."id";--> statement-breakpoint
CREATE UNIQUE INDEX "lti_store_nonce" ON "lti_store" USING btree (("fields" ->> 'nonce')) WHERE "lti_store"."collection" = 'nonce';
