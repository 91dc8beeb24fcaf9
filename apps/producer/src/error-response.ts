// Maps any error thrown while serving a request to an HTTP status and the API's JSON error body.

/** One invalid field, as the API reports it. */
export interface ErrorField {
  field: string;
  message: string;
}

/** The body of every error answer: `{error: {...}}`. */
export interface ErrorBody {
  error: { code: string; message: string; fields?: ErrorField[]; holderSagaId?: string };
}

/** A status code with the body to send; `internal` marks answers whose cause must be logged. */
export interface ErrorResponse {
  statusCode: number;
  body: ErrorBody;
  internal: boolean;
}

const SOURCE_REJECTED = new Set(['PATH_OUTSIDE_ROOT', 'SOURCE_NOT_FOUND', 'NOT_A_REGULAR_FILE', 'SOURCE_REPLACED', 'SOURCE_TOO_LARGE', 'SOURCE_TOO_SMALL']);
const NOT_FOUND = new Set(['SAGA_NOT_FOUND', 'DOCUMENT_NOT_FOUND', 'CLEANUP_NOT_FOUND', 'DEAD_LETTER_NOT_FOUND']);
// The operator's action conflicts with the current state: a queue this fleet does not consume, a retry in progress.
const CONFLICT = new Set(['UNKNOWN_QUEUE', 'CLEANUP_BUSY']);
const STORED_BYTES_REFUSED = new Set(['CHUNK_AUTH_FAILED', 'CHUNK_CORRUPT', 'HASH_MISMATCH', 'SIZE_MISMATCH']);
// Fastify's own answers when the body is not a JSON document: the client sent no usable request.
const BODY_NOT_JSON = new Set(['FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_CTP_INVALID_MEDIA_TYPE']);

/** Chooses the answer for `err`, by its `code`/`name` so that errors from a duplicated module still map. */
export function toErrorResponse(err: unknown): ErrorResponse {
  const e = describe(err);
  // The wiki route's request errors carry their own status: 400, 413 (too many files) or 422 (unsafe path).
  if (e.name === 'WikiRequestError') return answer(numberProp(err, 'status') ?? 400, e.code, e.message, { fields: fieldsOf(err) });
  if (e.code === 'INVALID_REQUEST' || e.name === 'InvalidRequestError') {
    return answer(400, 'INVALID_REQUEST', e.message, { fields: fieldsOf(err) });
  }
  if (BODY_NOT_JSON.has(e.code)) {
    return answer(400, 'INVALID_REQUEST', 'the body must be a JSON object (Content-Type: application/json)', {
      fields: [{ field: '(body)', message: e.message }],
    });
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return answer(413, 'PAYLOAD_TOO_LARGE', e.message);
  if (e.name === 'SourceRejectedError' || SOURCE_REJECTED.has(e.code)) {
    const field = stringProp(err, 'field') ?? 'filePath';
    return answer(422, e.code, e.message, { fields: [{ field, message: e.message }] });
  }
  if (e.code === 'LOCKED' || e.name === 'SagaLockedError') {
    const holder = stringProp(err, 'holderSagaId');
    return answer(409, 'LOCKED', e.message, holder === undefined ? {} : { holderSagaId: holder });
  }
  if (e.code === 'DOCUMENT_DELETING') {
    const holder = stringProp(err, 'holderSagaId');
    return answer(409, e.code, e.message, holder === undefined ? {} : { holderSagaId: holder });
  }
  if (NOT_FOUND.has(e.code)) return answer(404, e.code, e.message);
  if (CONFLICT.has(e.code)) return answer(409, e.code, e.message);
  // Encoding at rest: a key-encryption key this process does not hold, or stored bytes that fail their checks, are
  // reported by their code (messages name key ids and chunk keys, never key material), not as an internal error.
  if (e.code === 'KEY_UNAVAILABLE' && e.name === 'StorageError') return answer(503, e.code, e.message);
  if (STORED_BYTES_REFUSED.has(e.code) && e.name === 'StorageError') return answer(500, e.code, e.message);
  // Other client errors fastify raises itself (bad header, unsupported method) keep their status.
  const status = numberProp(err, 'statusCode');
  if (status !== undefined && status >= 400 && status < 500 && e.code.startsWith('FST_')) return answer(status, e.code, e.message);
  return { statusCode: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } }, internal: true };
}

function answer(statusCode: number, code: string, message: string, extra: { fields?: ErrorField[]; holderSagaId?: string } = {}): ErrorResponse {
  return { statusCode, body: { error: { code, message, ...extra } }, internal: false };
}

function describe(err: unknown): { code: string; name: string; message: string } {
  if (!(err instanceof Error)) return { code: '', name: '', message: String(err) };
  return { code: stringProp(err, 'code') ?? '', name: err.name, message: err.message };
}

function fieldsOf(err: unknown): ErrorField[] {
  const raw = err !== null && typeof err === 'object' && 'fields' in err && Array.isArray(err.fields) ? (err.fields as unknown[]) : [];
  const fields: ErrorField[] = [];
  for (const f of raw) {
    const field = stringProp(f, 'field');
    const message = stringProp(f, 'message');
    if (field !== undefined && message !== undefined) fields.push({ field, message });
  }
  return fields;
}

function stringProp(value: unknown, key: string): string | undefined {
  if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
  const v: unknown = (value as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

function numberProp(value: unknown, key: string): number | undefined {
  if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
  const v: unknown = (value as Record<string, unknown>)[key];
  return typeof v === 'number' ? v : undefined;
}
