-- Operations: saga search indexes, the alert-delivery outbox, and fleet heartbeats (the janitor's last pass).
-- Separate from 0000 so it can be renumbered when merged with other migrations.
CREATE INDEX IF NOT EXISTS "saga_instances_created" ON "saga_instances" USING btree ("created_at" DESC, "id" DESC);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "saga_instances_status_created" ON "saga_instances" USING btree ("status", "created_at" DESC, "id" DESC);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "saga_instances_state_created" ON "saga_instances" USING btree ("state", "created_at" DESC, "id" DESC);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "saga_instances_name_step_created" ON "saga_instances" USING btree ("name", "current_step", "created_at" DESC, "id" DESC);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "saga_instances_live_idle" ON "saga_instances" USING btree ("updated_at") WHERE status in ('running', 'compensating');--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "failed_cleanups_state_created" ON "failed_cleanups" USING btree (("resolved_at" is null), "id" DESC);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "saga_dead_letters_created" ON "saga_dead_letters" USING btree ("id" DESC);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "alert_deliveries" (
	"alert_id" bigint PRIMARY KEY NOT NULL REFERENCES "saga_alerts"("id") ON DELETE CASCADE,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "alert_deliveries_due" ON "alert_deliveries" USING btree ("next_attempt_at") WHERE delivered_at is null;--> statement-breakpoint
-- The outbox row is written in the transaction that writes the alert, whoever writes it: no alert escapes delivery.
CREATE OR REPLACE FUNCTION "alert_deliveries_enqueue"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "alert_deliveries" ("alert_id") VALUES (NEW.id) ON CONFLICT DO NOTHING;
	RETURN NEW;
END $$;--> statement-breakpoint
DROP TRIGGER IF EXISTS "saga_alerts_deliver" ON "saga_alerts";--> statement-breakpoint
CREATE TRIGGER "saga_alerts_deliver" AFTER INSERT ON "saga_alerts" FOR EACH ROW EXECUTE FUNCTION "alert_deliveries_enqueue"();--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "fleet_heartbeats" (
	"name" text PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"data" jsonb
);
