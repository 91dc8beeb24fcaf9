// A small client of the producer's HTTP API, as an upstream system would call it: fetch with X-Internal-Token.
import { createHash } from 'node:crypto';
import type { IngestionStatus } from '@ingest/ingest';
import { waitFor } from '@ingest/testkit';

/** One answer: status, headers and the parsed JSON body (undefined when the body is not JSON). */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** The error body every non-2xx answer carries. */
export interface ApiErrorBody {
  error: { code: string; message: string; fields?: { field: string; message: string }[]; holderSagaId?: string };
}

/** Options of one request. */
export interface RequestOptions {
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (with `contentType`), for bodies that are not JSON. */
  raw?: string;
  contentType?: string;
  /** X-Internal-Token to send; null sends none. Default: the right token. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Give up after this long. Default 15 000 ms. */
  timeoutMs?: number;
}

/** The producer's API. */
export interface ProducerApi {
  readonly url: string;
  request(method: string, route: string, options?: RequestOptions): Promise<ApiAnswer>;
  /** POST /v1/documents, which must answer 202; returns the saga id. */
  submit(body: unknown, headers?: Record<string, string>): Promise<string>;
  /** GET /v1/sagas/:id, which must answer 200. */
  status(sagaId: string): Promise<IngestionStatus>;
  /** Polls the status until `probe` holds. */
  waitUntil(sagaId: string, what: string, probe: (s: IngestionStatus) => boolean, timeoutMs?: number): Promise<IngestionStatus>;
  /** Polls the status until the saga is no longer running or compensating. */
  waitForEnd(sagaId: string, timeoutMs?: number): Promise<IngestionStatus>;
  /** GET /v1/documents/:id/content, hashed as it streams in. */
  readContent(documentId: string): Promise<{ status: number; sha256: string; bytes: number; headerSha256: string | null }>;
}

/** A client for the producer listening at `url`. */
export function connectProducer(url: string, token: string): ProducerApi {
  const api: ProducerApi = {
    url,
    async request(method, route, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const presented = options.token === undefined ? token : options.token;
      if (presented !== null) headers['x-internal-token'] = presented;
      let body: string | undefined;
      if (options.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.json);
      } else if (options.raw !== undefined) {
        headers['content-type'] = options.contentType ?? 'text/plain';
        body = options.raw;
      }
      const res = await fetch(`${url}${route}`, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async submit(body, headers = {}) {
      const answer = await api.request('POST', '/v1/documents', { json: body, headers });
      if (answer.status !== 202) throw new Error(`POST /v1/documents answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      const { sagaId, statusUrl } = answer.body as { sagaId: string; statusUrl: string };
      if (statusUrl !== `/v1/sagas/${sagaId}`) throw new Error(`unexpected statusUrl ${statusUrl} for saga ${sagaId}`);
      return sagaId;
    },
    async status(sagaId) {
      const answer = await api.request('GET', `/v1/sagas/${sagaId}`);
      if (answer.status !== 200) throw new Error(`GET /v1/sagas/${sagaId} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body as IngestionStatus;
    },
    waitUntil(sagaId, what, probe, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const s = await api.status(sagaId);
          return probe(s) ? s : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `saga ${sagaId}: ${what}` },
      );
    },
    waitForEnd(sagaId, timeoutMs = 90_000) {
      return api.waitUntil(sagaId, 'to end', (s) => s.status !== 'running' && s.status !== 'compensating', timeoutMs);
    },
    async readContent(documentId) {
      const res = await fetch(`${url}/v1/documents/${documentId}/content`, {
        headers: { 'x-internal-token': token },
        signal: AbortSignal.timeout(60_000),
      });
      const hash = createHash('sha256');
      let bytes = 0;
      if (res.body) {
        for await (const piece of res.body) {
          bytes += piece.byteLength;
          hash.update(piece);
        }
      }
      return { status: res.status, sha256: hash.digest('hex'), bytes, headerSha256: res.headers.get('x-content-sha256') };
    },
  };
  return api;
}

/** The error body of an answer, or a failed expectation's message when it has none. */
export function errorOf(answer: ApiAnswer): ApiErrorBody['error'] {
  const body = answer.body as Partial<ApiErrorBody> | undefined;
  if (!body?.error) throw new Error(`answer ${answer.status} has no error body: ${JSON.stringify(answer.body)}`);
  return body.error;
}

/** SHA-256 (hex) of bytes. */
export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
