CREATE TABLE "upload_operations" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"source_path" text NOT NULL,
	"source_size" bigint NOT NULL,
	"source_mtime" timestamp with time zone NOT NULL,
	"chunk_size" integer NOT NULL,
	"key_prefix" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"sha256" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "upload_operations_status_check" CHECK ("upload_operations"."status" in ('active', 'completed', 'cancelled')),
	CONSTRAINT "upload_operations_chunk_size_check" CHECK ("upload_operations"."chunk_size" > 0),
	CONSTRAINT "upload_operations_source_size_check" CHECK ("upload_operations"."source_size" >= 0)
);
--> statement-breakpoint
CREATE TABLE "upload_chunks" (
	"operation_id" text NOT NULL,
	"chunk_index" integer NOT NULL,
	"key" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"md5" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "upload_chunks_operation_id_chunk_index_pk" PRIMARY KEY("operation_id","chunk_index")
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"category" text,
	"security_level" text,
	"source_path" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"operation_id" text,
	"chunk_count" integer NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vector_chunks" (
	"document_id" uuid NOT NULL,
	"chunk_index" integer NOT NULL,
	"content" text NOT NULL,
	"embedding" real[] NOT NULL,
	"model" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vector_chunks_document_id_chunk_index_pk" PRIMARY KEY("document_id","chunk_index")
);
--> statement-breakpoint
CREATE TABLE "graph_edges" (
	"document_id" uuid NOT NULL,
	"source_id" text NOT NULL,
	"type" text NOT NULL,
	"target_id" text NOT NULL,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "graph_edges_document_id_source_id_type_target_id_pk" PRIMARY KEY("document_id","source_id","type","target_id")
);
--> statement-breakpoint
CREATE TABLE "graph_nodes" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"label" text NOT NULL,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "security_audit" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "security_audit_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"document_id" uuid NOT NULL,
	"action" text NOT NULL,
	"actor" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "security_records" (
	"document_id" uuid PRIMARY KEY NOT NULL,
	"content_sha256" text NOT NULL,
	"classification" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "upload_chunks" ADD CONSTRAINT "upload_chunks_operation_id_upload_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."upload_operations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "upload_operations_owner_idx" ON "upload_operations" USING btree ("owner");--> statement-breakpoint
CREATE INDEX "upload_operations_status_idx" ON "upload_operations" USING btree ("status","updated_at");--> statement-breakpoint
CREATE INDEX "documents_sha256_idx" ON "documents" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "graph_edges_target_idx" ON "graph_edges" USING btree ("target_id");--> statement-breakpoint
CREATE INDEX "security_audit_document_idx" ON "security_audit" USING btree ("document_id");