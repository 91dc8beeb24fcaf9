// A small HTTP client of the producer's API for the CLI; errors become ProducerHttpError with the server's words.
import type { DocumentListPage, IngestionStatus } from '@ingest/ingest';
import type { ErrorField } from './error-response.ts';
import { ProducerHttpError, ProducerUnreachableError } from './cli-errors.ts';

/** The body of POST /v1/documents as the CLI builds it. */
export interface EnqueueBody {
  filePath: string;
  metadata: { title: string; category?: string; securityLevel?: string };
  textPath?: string;
  /** The stable id of a document this one replaces. */
  replaces?: string;
}

/** The body of POST /v1/wiki-generations as the CLI builds it (files by reference to a directory). */
export interface WikiGenerationBody {
  projectId: string;
  userId: string;
  filesDir: string;
}

/** Options of createProducerClient. */
export interface ProducerClientOptions {
  /** Base URL without a trailing slash. */
  baseUrl: string;
  internalToken: string;
  /** Sent as X-Requested-By. Default 'cli'. */
  requestedBy?: string;
}

/** The calls the CLI makes. */
export interface ProducerClient {
  enqueue(body: EnqueueBody, options?: { idempotencyKey?: string }): Promise<{ sagaId: string; statusUrl: string }>;
  status(sagaId: string): Promise<IngestionStatus>;
  generateWiki(body: WikiGenerationBody, options?: { idempotencyKey?: string }): Promise<{ sagaId: string; statusUrl: string }>;
  /** DELETE /v1/documents/:id: the deletion saga (the running one, when a delete is already under way). */
  deleteDocument(documentId: string): Promise<{ sagaId: string; statusUrl: string }>;
  /** GET /v1/documents with its query parameters. */
  listDocuments(query: Record<string, string>): Promise<DocumentListPage>;
}

/** Creates a client that authenticates every call with the internal token. */
export function createProducerClient(options: ProducerClientOptions): ProducerClient {
  const { baseUrl, internalToken, requestedBy = 'cli' } = options;

  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const url = `${baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          'x-internal-token': internalToken,
          'x-requested-by': requestedBy,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ProducerUnreachableError(baseUrl, err);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok) {
      if (parsed === undefined) throw new ProducerUnreachableError(baseUrl, new Error(`${method} ${path} answered ${response.status} without JSON`));
      return parsed;
    }
    throw toHttpError(response.status, parsed, text);
  }

  return {
    async enqueue(body, o = {}) {
      const headers: Record<string, string> = o.idempotencyKey === undefined ? {} : { 'idempotency-key': o.idempotencyKey };
      const answer = await call('POST', '/v1/documents', body, headers);
      if (!isRecord(answer) || typeof answer.sagaId !== 'string' || typeof answer.statusUrl !== 'string') {
        throw new ProducerUnreachableError(baseUrl, new Error('POST /v1/documents answered without sagaId'));
      }
      return { sagaId: answer.sagaId, statusUrl: answer.statusUrl };
    },
    async generateWiki(body, o = {}) {
      const headers: Record<string, string> = o.idempotencyKey === undefined ? {} : { 'idempotency-key': o.idempotencyKey };
      const answer = await call('POST', '/v1/wiki-generations', body, headers);
      if (!isRecord(answer) || typeof answer.sagaId !== 'string' || typeof answer.statusUrl !== 'string') {
        throw new ProducerUnreachableError(baseUrl, new Error('POST /v1/wiki-generations answered without sagaId'));
      }
      return { sagaId: answer.sagaId, statusUrl: answer.statusUrl };
    },
    async deleteDocument(documentId) {
      const answer = await call('DELETE', `/v1/documents/${encodeURIComponent(documentId)}`);
      if (!isRecord(answer) || typeof answer.sagaId !== 'string' || typeof answer.statusUrl !== 'string') {
        throw new ProducerUnreachableError(baseUrl, new Error('DELETE /v1/documents/:id answered without sagaId'));
      }
      return { sagaId: answer.sagaId, statusUrl: answer.statusUrl };
    },
    async listDocuments(query) {
      const answer = await call('GET', `/v1/documents?${new URLSearchParams(query).toString()}`);
      if (!isRecord(answer) || !Array.isArray(answer.documents)) throw new ProducerUnreachableError(baseUrl, new Error('GET /v1/documents answered without documents'));
      // The producer is this repository's own API: its listing body is DocumentListPage by construction.
      return answer as unknown as DocumentListPage;
    },
    async status(sagaId) {
      const answer = await call('GET', `/v1/sagas/${encodeURIComponent(sagaId)}`);
      if (!isRecord(answer) || typeof answer.sagaId !== 'string' || typeof answer.status !== 'string') {
        throw new ProducerUnreachableError(baseUrl, new Error('GET /v1/sagas/:id answered without a status'));
      }
      // The producer is this repository's own API: its status body is IngestionStatus by construction.
      return answer as unknown as IngestionStatus;
    },
  };
}

function toHttpError(status: number, parsed: unknown, text: string): ProducerHttpError {
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : undefined;
  if (error === undefined || typeof error.code !== 'string' || typeof error.message !== 'string') {
    return new ProducerHttpError(status, `HTTP_${status}`, text.slice(0, 500) || `HTTP ${status}`);
  }
  const fields: ErrorField[] = Array.isArray(error.fields)
    ? error.fields.filter(isRecord).map((f) => ({ field: String(f.field), message: String(f.message) }))
    : [];
  return new ProducerHttpError(status, error.code, error.message, {
    fields,
    ...(typeof error.holderSagaId === 'string' ? { holderSagaId: error.holderSagaId } : {}),
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
