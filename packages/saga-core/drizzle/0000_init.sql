CREATE TABLE "failed_cleanups" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"saga_id" uuid NOT NULL,
	"step" text NOT NULL,
	"store" text NOT NULL,
	"key" text NOT NULL,
	"details" jsonb,
	"error" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"resolved_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saga_alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"saga_id" uuid,
	"severity" text NOT NULL,
	"type" text NOT NULL,
	"message" text NOT NULL,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saga_dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"queue" text NOT NULL,
	"job_id" text,
	"data" jsonb,
	"reason" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saga_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"saga_id" uuid NOT NULL,
	"type" text NOT NULL,
	"step" text,
	"phase" text,
	"attempt" integer,
	"from_state" text,
	"to_state" text,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saga_instances" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"state" text NOT NULL,
	"status" text NOT NULL,
	"input" jsonb NOT NULL,
	"idempotency_key" text,
	"lock_key" text,
	"current_step" integer DEFAULT 0 NOT NULL,
	"current_phase" text DEFAULT 'action' NOT NULL,
	"dispatch_seq" integer DEFAULT 1 NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"deadline_at" timestamp with time zone NOT NULL,
	"cancel_requested_at" timestamp with time zone,
	"cancel_reason" text,
	"failure" jsonb,
	"progress" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "saga_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"saga_id" uuid NOT NULL,
	"queue" text NOT NULL,
	"job_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dispatched_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "saga_steps" (
	"saga_id" uuid NOT NULL,
	"step_index" integer NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"compensation_attempts" integer DEFAULT 0 NOT NULL,
	"output" jsonb,
	"error" text,
	"compensation_error" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "saga_steps_saga_id_step_index_pk" PRIMARY KEY("saga_id","step_index")
);
--> statement-breakpoint
ALTER TABLE "saga_steps" ADD CONSTRAINT "saga_steps_saga_id_saga_instances_id_fk" FOREIGN KEY ("saga_id") REFERENCES "public"."saga_instances"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "failed_cleanups_leftover" ON "failed_cleanups" USING btree ("saga_id","store","key");--> statement-breakpoint
CREATE INDEX "failed_cleanups_due" ON "failed_cleanups" USING btree ("next_attempt_at") WHERE resolved_at is null;--> statement-breakpoint
CREATE INDEX "saga_events_saga" ON "saga_events" USING btree ("saga_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "saga_instances_idempotency_key" ON "saga_instances" USING btree ("idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "saga_instances_live_lock" ON "saga_instances" USING btree ("lock_key") WHERE status in ('running', 'compensating');--> statement-breakpoint
CREATE INDEX "saga_instances_status" ON "saga_instances" USING btree ("status","updated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "saga_outbox_job_id" ON "saga_outbox" USING btree ("job_id");--> statement-breakpoint
CREATE INDEX "saga_outbox_pending" ON "saga_outbox" USING btree ("created_at") WHERE dispatched_at is null;