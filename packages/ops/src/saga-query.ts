// Parsing of GET /v1/sagas's query string into a validated filter, and its opaque keyset cursor.
import { InvalidQueryError, type QueryFieldProblem } from './errors.ts';

/** Statuses a saga can have (the engine's). */
export const SAGA_STATUSES = ['running', 'compensating', 'completed', 'compensated', 'compensation_failed', 'failed'] as const;

/** Where the previous page ended: the last row's exact created_at (PostgreSQL text) and id. */
export interface SagaCursor {
  createdAt: string;
  id: string;
}

/** A validated search. */
export interface SagaFilter {
  status?: string;
  state?: string;
  saga?: string;
  step?: string;
  stuck: boolean;
  createdAfter?: Date;
  createdBefore?: Date;
  limit: number;
  cursor?: SagaCursor;
}

const MAX_LIMIT = 500;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Encodes a cursor as URL-safe base64 of JSON (opaque to clients). */
export function encodeCursor(c: SagaCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id]), 'utf8').toString('base64url');
}

function decodeCursor(raw: string): SagaCursor | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' && UUID.test(v[1]) && !Number.isNaN(Date.parse(v[0]))) {
      return { createdAt: v[0], id: v[1] };
    }
  } catch {
    // fall through: reported as an invalid cursor
  }
  return undefined;
}

/** Validates the query parameters; throws InvalidQueryError naming every bad one. */
export function parseSagaFilter(query: Record<string, unknown>): SagaFilter {
  const problems: QueryFieldProblem[] = [];
  const text = (key: string): string | undefined => {
    const v = query[key];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push({ field: key, message: 'must be given once' });
      return undefined;
    }
    return v;
  };
  const filter: SagaFilter = { stuck: false, limit: 50 };
  const status = text('status');
  if (status !== undefined) {
    if ((SAGA_STATUSES as readonly string[]).includes(status)) filter.status = status;
    else problems.push({ field: 'status', message: `must be one of ${SAGA_STATUSES.join(', ')}` });
  }
  for (const key of ['state', 'saga', 'step'] as const) {
    const v = text(key);
    if (v === undefined) continue;
    if (NAME.test(v)) filter[key] = v;
    else problems.push({ field: key, message: 'must be a name (letters, digits, _ . -)' });
  }
  const stuck = text('stuck');
  if (stuck !== undefined) {
    if (stuck === 'true' || stuck === 'false') filter.stuck = stuck === 'true';
    else problems.push({ field: 'stuck', message: 'must be true or false' });
  }
  for (const key of ['createdAfter', 'createdBefore'] as const) {
    const v = text(key);
    if (v === undefined) continue;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) problems.push({ field: key, message: 'must be an ISO 8601 date-time' });
    else filter[key] = d;
  }
  const limit = text('limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT) filter.limit = n;
    else problems.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_LIMIT}` });
  }
  const cursor = text('cursor');
  if (cursor !== undefined) {
    const c = decodeCursor(cursor);
    if (c) filter.cursor = c;
    else problems.push({ field: 'cursor', message: 'is not a cursor this API returned' });
  }
  if (problems.length > 0) throw new InvalidQueryError(problems);
  return filter;
}
