// The graph downstream store: a document node and its relations (edges to entity or other nodes), removed exactly by document.
import { and, eq, inArray, sql as raw } from 'drizzle-orm';
import type { Sql } from 'postgres';
import { InvalidOptionError } from './errors.ts';
import { type StorageDb, storageDb } from './db.ts';
import { type DatabaseStoreOptions, createDatabaseGuard } from './database-guard.ts';
import { assertDocumentId } from './document-id.ts';
import { graphEdges, graphNodes } from './schema/graph.ts';

/** Options of createGraphStore. */
export type GraphStoreOptions = DatabaseStoreOptions;

/** A relation of a document: to an existing node by id, or to an entity by label (created on first mention). */
export interface GraphRelation {
  type: string;
  /** Id of the target node (e.g. another document's UUID). Exactly one of targetId and targetLabel. */
  targetId?: string;
  /** Label of an entity node, e.g. "GDPR"; its id is `entity:<label>`. */
  targetLabel?: string;
  properties?: Record<string, unknown>;
}

/** What upsertDocument writes. */
export interface GraphDocumentInput {
  documentId: string;
  label: string;
  properties?: Record<string, unknown>;
  relations?: readonly GraphRelation[];
}

/** A stored relation, as getDocument returns it. */
export interface StoredRelation {
  type: string;
  targetId: string;
  targetLabel: string | undefined;
  properties: Record<string, unknown>;
}

/** The graph store's operations. */
export interface GraphStore {
  /** Writes the document node and replaces its relations (idempotent); returns the number of relations. */
  upsertDocument(input: GraphDocumentInput): Promise<{ documentId: string; relations: number }>;
  /** Removes the document's node, its edges, and entity nodes nothing else refers to any more. Idempotent. */
  remove(documentId: string): Promise<{ removedNodes: number; removedEdges: number }>;
  /** The document node and its relations, or undefined. */
  getDocument(documentId: string): Promise<{ label: string; properties: Record<string, unknown>; relations: StoredRelation[] } | undefined>;
}

/** Creates the graph store over its own connection pool. */
export function createGraphStore(sql: Sql, options: GraphStoreOptions = {}): GraphStore {
  const db = storageDb(sql);
  const guard = createDatabaseGuard('graph', options);
  return {
    async upsertDocument(input) {
      assertDocumentId(input.documentId);
      const edges = new Map<string, { type: string; targetId: string; targetLabel: string | undefined; properties: Record<string, unknown> }>();
      for (const [i, r] of (input.relations ?? []).entries()) {
        if (!r.type) throw new InvalidOptionError(`relations[${i}].type`, 'is required');
        if ((r.targetId === undefined) === (r.targetLabel === undefined)) throw new InvalidOptionError(`relations[${i}]`, 'needs exactly one of targetId and targetLabel');
        const targetId = r.targetId ?? `entity:${r.targetLabel}`;
        edges.set(`${r.type}\u0000${targetId}`, { type: r.type, targetId, targetLabel: r.targetLabel, properties: r.properties ?? {} });
      }
      const relations = [...edges.values()];
      if (relations.length === 0) {
        // The common case, a document without relations: one statement (atomic on its own) instead of a transaction of
        // four round trips; no entity is touched, so no lock is needed.
        const properties = JSON.stringify(input.properties ?? {});
        await guard.run(
          'upsert graph document',
          () =>
            db.execute(raw`with cleared as (delete from ${graphEdges} where ${graphEdges.documentId} = ${input.documentId})
              insert into ${graphNodes} (id, kind, label, properties) values (${input.documentId}, 'document', ${input.label}, ${properties}::jsonb)
              on conflict (id) do update set label = excluded.label, properties = excluded.properties`),
          input.documentId,
        );
        return { documentId: input.documentId, relations: 0 };
      }
      await guard.run(
        'upsert graph document',
        () =>
          db.transaction(async (tx) => {
            await lockNodes(tx, relations.map((r) => r.targetId));
            await tx
              .insert(graphNodes)
              .values({ id: input.documentId, kind: 'document', label: input.label, properties: input.properties ?? {} })
              .onConflictDoUpdate({ target: graphNodes.id, set: { label: input.label, properties: input.properties ?? {} } });
            const entities = relations.filter((r) => r.targetLabel !== undefined);
            if (entities.length) {
              await tx
                .insert(graphNodes)
                .values(entities.map((r) => ({ id: r.targetId, kind: 'entity' as const, label: r.targetLabel!, properties: {} })))
                .onConflictDoNothing();
            }
            // Replace rather than merge: the document's relations are what this call says they are.
            await tx.delete(graphEdges).where(eq(graphEdges.documentId, input.documentId));
            if (relations.length) {
              await tx.insert(graphEdges).values(
                relations.map((r) => ({ documentId: input.documentId, sourceId: input.documentId, type: r.type, targetId: r.targetId, properties: r.properties })),
              );
            }
          }),
        input.documentId,
      );
      return { documentId: input.documentId, relations: relations.length };
    },

    async remove(documentId) {
      assertDocumentId(documentId);
      return guard.run(
        'remove graph document',
        () =>
          db.transaction(async (tx) => {
            const targets = (await tx.selectDistinct({ id: graphEdges.targetId }).from(graphEdges).where(eq(graphEdges.documentId, documentId))).map((t) => t.id);
            await lockNodes(tx, targets);
            const edges = await tx.delete(graphEdges).where(eq(graphEdges.documentId, documentId)).returning({ t: graphEdges.targetId });
            const documentNode = await tx.delete(graphNodes).where(and(eq(graphNodes.id, documentId), eq(graphNodes.kind, 'document'))).returning({ id: graphNodes.id });
            // Entities this document mentioned that no remaining edge refers to are its leftovers.
            const orphans = targets.length
              ? await tx
                  .delete(graphNodes)
                  .where(
                    and(
                      eq(graphNodes.kind, 'entity'),
                      inArray(graphNodes.id, targets),
                      raw`not exists (select 1 from ${graphEdges} e where e.target_id = ${graphNodes.id} or e.source_id = ${graphNodes.id})`,
                    ),
                  )
                  .returning({ id: graphNodes.id })
              : [];
            return { removedNodes: documentNode.length + orphans.length, removedEdges: edges.length };
          }),
        documentId,
      );
    },

    async getDocument(documentId) {
      assertDocumentId(documentId);
      return guard.run(
        'get graph document',
        async () => {
          const [node] = await db.select().from(graphNodes).where(and(eq(graphNodes.id, documentId), eq(graphNodes.kind, 'document')));
          if (!node) return undefined;
          const rows = await db
            .select({ type: graphEdges.type, targetId: graphEdges.targetId, properties: graphEdges.properties, kind: graphNodes.kind, label: graphNodes.label })
            .from(graphEdges)
            .leftJoin(graphNodes, eq(graphNodes.id, graphEdges.targetId))
            .where(eq(graphEdges.documentId, documentId))
            .orderBy(graphEdges.type, graphEdges.targetId);
          const relations = rows.map((r) => ({ type: r.type, targetId: r.targetId, targetLabel: r.kind === 'entity' ? (r.label ?? undefined) : undefined, properties: r.properties }));
          return { label: node.label, properties: node.properties, relations };
        },
        documentId,
      );
    },
  };
}

type Tx = Parameters<Parameters<StorageDb['transaction']>[0]>[0];

// Entity nodes are shared between documents: a remove deleting an entity it believes orphaned must not race an
// upsert adding an edge to it. Both take the targets' transaction locks, in id order (no deadlocks).
async function lockNodes(tx: Tx, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  const sorted = [...new Set(ids)].sort();
  const rows = raw.join(sorted.map((id) => raw`(${id})`), raw`, `);
  await tx.execute(raw`select pg_advisory_xact_lock(hashtextextended('graph-node:' || id, 0)) from (values ${rows}) as t(id) order by id`);
}
