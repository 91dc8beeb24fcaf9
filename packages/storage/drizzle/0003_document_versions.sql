CREATE TABLE IF NOT EXISTS "document_heads" (
	"id" uuid PRIMARY KEY NOT NULL,
	"current_version_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"delete_saga_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "document_versions" (
	"version_id" uuid PRIMARY KEY NOT NULL,
	"document_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"previous_version_id" uuid,
	"saga_id" text,
	"operation_id" text,
	"status" text DEFAULT 'current' NOT NULL,
	"remove_saga_id" text,
	"committed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"superseded_at" timestamp with time zone,
	"removed_at" timestamp with time zone
);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "document_heads_created_idx" ON "document_heads" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "document_heads_status_idx" ON "document_heads" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "document_versions_document_version_idx" ON "document_versions" USING btree ("document_id","version");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "document_versions_status_idx" ON "document_versions" USING btree ("status");--> statement-breakpoint
INSERT INTO "document_heads" ("id", "current_version_id", "version", "status", "created_at")
	SELECT "id", "id", 1, 'active', "created_at" FROM "documents" ON CONFLICT DO NOTHING;--> statement-breakpoint
INSERT INTO "document_versions" ("version_id", "document_id", "version", "saga_id", "operation_id", "status", "committed_at")
	SELECT "id", "id", 1, "metadata"->>'sagaId', "operation_id", 'current', "created_at" FROM "documents" ON CONFLICT DO NOTHING;
