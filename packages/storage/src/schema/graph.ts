// Nodes and edges of the document graph (the graph downstream store, on plain PostgreSQL).
import { index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Node kinds: a document, or an entity a document relates to (created on first mention). */
export const GRAPH_NODE_KINDS = ['document', 'entity'] as const;

/** Graph nodes; a document node's id is the document's uuid. */
export const graphNodes = pgTable('graph_nodes', {
  id: text('id').primaryKey(),
  kind: text('kind', { enum: GRAPH_NODE_KINDS }).notNull(),
  label: text('label').notNull(),
  properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** Graph edges, each owned by the document whose ingestion created it, so removal by document is exact. */
export const graphEdges = pgTable(
  'graph_edges',
  {
    documentId: uuid('document_id').notNull(),
    sourceId: text('source_id').notNull(),
    type: text('type').notNull(),
    targetId: text('target_id').notNull(),
    properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.sourceId, t.type, t.targetId] }), index('graph_edges_target_idx').on(t.targetId)],
);
