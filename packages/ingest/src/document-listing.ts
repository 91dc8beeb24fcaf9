// GET /v1/documents: stable documents, newest first, in keyset pages, filtered by category, security level,
// creation time and status. Query parameters are validated with zod; each invalid one is named in a 400.
import type { Sql } from 'postgres';
import { z } from 'zod';
import { InvalidRequestError } from './errors.ts';

const STATUSES = ['active', 'deleting', 'deleted'] as const;
const CURSOR = /^(\d{1,17})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

const querySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().regex(CURSOR, 'not a cursor this API returned').optional(),
    category: z.string().min(1).max(200).optional(),
    securityLevel: z.enum(['public', 'internal', 'confidential', 'restricted']).optional(),
    createdAfter: z.iso.datetime({ offset: true }).optional(),
    createdBefore: z.iso.datetime({ offset: true }).optional(),
    /** Comma-separated; default active and deleting. */
    status: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()))
      .pipe(z.array(z.enum(STATUSES)).min(1))
      .optional(),
  })
  .strict();

/** A validated listing query. */
export type DocumentListQuery = z.infer<typeof querySchema>;

/** One document in a listing page. */
export interface DocumentListItem {
  documentId: string;
  version: number;
  status: (typeof STATUSES)[number];
  title: string | null;
  category: string | null;
  securityLevel: string | null;
  sizeBytes: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A page of documents; `nextCursor` is null on the last page. */
export interface DocumentListPage {
  documents: DocumentListItem[];
  nextCursor: string | null;
}

/** Validates listing query parameters; throws InvalidRequestError naming each invalid one. */
export function parseDocumentListQuery(query: unknown): DocumentListQuery {
  const parsed = querySchema.safeParse(query ?? {});
  if (parsed.success) return parsed.data;
  throw new InvalidRequestError(parsed.error.issues.map((i) => ({ field: i.path.length > 0 ? String(i.path[0]) : '(query)', message: i.message })));
}

type Row = {
  id: string;
  version: number;
  status: DocumentListItem['status'];
  title: string | null;
  category: string | null;
  security_level: string | null;
  size: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  micros: string;
};

/** Reads one page of heads (joined to their current version's row), newest first. */
export async function listDocuments(sql: Sql, q: DocumentListQuery): Promise<DocumentListPage> {
  const cursor = q.cursor ? CURSOR.exec(q.cursor) : null;
  const statuses = q.status ?? ['active', 'deleting'];
  const rows = await sql<Row[]>`
    select h.id, h.version, h.status, d.title, d.category, d.security_level, d.size::text as size, h.created_at, h.updated_at,
           (extract(epoch from h.created_at) * 1000000)::bigint::text as micros
    from document_heads h
    left join documents d on d.id = h.current_version_id
    where h.status = any(${statuses}::text[])
      -- an active head whose row is missing is a commit its saga then undid
      and (d.id is not null or h.status <> 'active')
      ${q.category === undefined ? sql`` : sql`and d.category = ${q.category}`}
      ${q.securityLevel === undefined ? sql`` : sql`and d.security_level = ${q.securityLevel}`}
      ${q.createdAfter === undefined ? sql`` : sql`and h.created_at >= ${q.createdAfter}::timestamptz`}
      ${q.createdBefore === undefined ? sql`` : sql`and h.created_at < ${q.createdBefore}::timestamptz`}
      ${cursor ? sql`and (h.created_at, h.id) < (timestamptz 'epoch' + ${cursor[1]!}::bigint * interval '1 microsecond', ${cursor[2]!}::uuid)` : sql``}
    order by h.created_at desc, h.id desc
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    documents: page.map((r) => ({
      documentId: r.id,
      version: r.version,
      status: r.status,
      title: r.title,
      category: r.category,
      securityLevel: r.security_level,
      sizeBytes: r.size === null ? null : Number(r.size),
      createdAt: new Date(r.created_at).toISOString(),
      updatedAt: new Date(r.updated_at).toISOString(),
    })),
    nextCursor: rows.length > q.limit && last ? `${last.micros}_${last.id}` : null,
  };
}
