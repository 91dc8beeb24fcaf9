ALTER TABLE "saga_instances" ADD COLUMN "history_pruned_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "saga_instances_prunable" ON "saga_instances" USING btree ("finished_at","id") WHERE history_pruned_at is null and status in ('completed', 'compensated', 'compensation_failed', 'failed');--> statement-breakpoint
CREATE INDEX "saga_outbox_delivered" ON "saga_outbox" USING btree ("id") WHERE dispatched_at is not null;--> statement-breakpoint
CREATE INDEX "saga_outbox_saga" ON "saga_outbox" USING btree ("saga_id");