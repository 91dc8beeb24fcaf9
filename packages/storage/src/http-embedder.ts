// An embedder over an OpenAI-compatible /v1/embeddings endpoint, through a circuit breaker and a per-call deadline.
import type { Logger } from 'pino';
import { describe } from './classify-error.ts';
import { type BreakerOptions, createCallGuard } from './call-guard.ts';
import type { Embedder } from './embedder.ts';
import { InvalidOptionError, StorageError } from './errors.ts';
import { intOption, stringOption } from './options.ts';

/** Options of createHttpEmbedder. */
export interface HttpEmbedderOptions {
  /** The endpoint: a full …/embeddings URL, or a base URL to which /v1/embeddings (or /embeddings after …/v1) is appended. Required. */
  url: string;
  /** Model name sent with each request. Required. */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>`. Default: no header. */
  apiKey?: string;
  /** Asks the server for vectors of this length (models that support it); also checked on every answer. Default: whatever the model returns. */
  dimensions?: number;
  /** A request not answered after this long fails as TIMEOUT. Default 60 000 ms. */
  timeoutMs?: number;
  /** Breaker tuning; see BreakerOptions. */
  breaker?: BreakerOptions;
  /** Logger for breaker state changes. Default: silent. */
  logger?: Logger;
  /** The fetch implementation. Default: the global fetch. */
  fetch?: typeof fetch;
}

interface EmbeddingsResponse {
  data?: Array<{ index?: number; embedding?: unknown }>;
}

/** Creates an embedder calling an OpenAI-compatible embeddings API; 429/5xx/network failures are retryable, other refusals EMBEDDING_FAILED. */
export function createHttpEmbedder(options: HttpEmbedderOptions): Embedder {
  const endpoint = embeddingsUrl(stringOption('url', options.url));
  const model = stringOption('model', options.model);
  const dimensions = options.dimensions === undefined ? undefined : intOption('dimensions', options.dimensions, 0, 1, 65_536);
  const doFetch = options.fetch ?? fetch;
  const guard = createCallGuard({
    name: `embeddings:${endpoint.host}`,
    callTimeoutMs: intOption('timeoutMs', options.timeoutMs, 60_000, 1),
    ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  // Messages name the endpoint without credentials or query (where keys sometimes go), and never repeat the key
  // when a server echoes it back in an error body: those messages reach saga errors, API bodies and logs.
  const shown = `${endpoint.origin}${endpoint.pathname}`;
  const scrub = (text: string): string => (options.apiKey ? text.split(options.apiKey).join('***') : text);

  return {
    model,
    dimensions,
    async embed(texts, callOptions = {}) {
      if (texts.length === 0) return [];
      const body = JSON.stringify({ model, input: texts, ...(dimensions === undefined ? {} : { dimensions }) });
      const answer = await guard.run(
        `POST ${shown}`,
        async (signal) => {
          const res = await doFetch(endpoint, { method: 'POST', headers, body, signal });
          const text = await res.text();
          if (!res.ok) throw httpError(res.status, scrub(text), shown);
          return text;
        },
        callOptions.signal ? { signal: callOptions.signal } : {},
      );
      return parseVectors(answer, texts.length, dimensions, shown);
    },
  };
}

function embeddingsUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidOptionError('url', `not a URL: ${raw}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/embeddings')) url.pathname = path.endsWith('/v1') ? `${path}/embeddings` : `${path}/v1/embeddings`;
  return url;
}

function httpError(status: number, body: string, href: string): Error {
  const message = `POST ${href}: HTTP ${status} ${body.slice(0, 300)}`;
  // Throttling and server errors: the store is unavailable for now. Anything else will not improve with retries.
  if (status === 429 || status === 408 || status >= 500) return new StorageError('STORAGE_UNAVAILABLE', message);
  return new StorageError('EMBEDDING_FAILED', message);
}

function parseVectors(text: string, expected: number, dimensions: number | undefined, href: string): number[][] {
  let parsed: EmbeddingsResponse;
  try {
    parsed = JSON.parse(text) as EmbeddingsResponse;
  } catch (err) {
    throw new StorageError('EMBEDDING_FAILED', `POST ${href}: answer is not JSON (${describe(err)})`);
  }
  const data = parsed.data;
  if (!Array.isArray(data) || data.length !== expected) {
    throw new StorageError('EMBEDDING_FAILED', `POST ${href}: expected ${expected} embeddings, got ${Array.isArray(data) ? data.length : 'none'}`);
  }
  const out: number[][] = new Array<number[]>(expected);
  for (const [position, item] of data.entries()) {
    const index = item.index ?? position;
    const v = item.embedding;
    if (!Number.isInteger(index) || index < 0 || index >= expected || out[index] !== undefined) {
      throw new StorageError('EMBEDDING_FAILED', `POST ${href}: embedding ${position} has a bad or repeated index ${String(item.index)}`);
    }
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new StorageError('EMBEDDING_FAILED', `POST ${href}: embedding ${index} is not an array of numbers`);
    }
    if (dimensions !== undefined && v.length !== dimensions) {
      throw new StorageError('EMBEDDING_FAILED', `POST ${href}: embedding ${index} has ${v.length} dimensions, expected ${dimensions}`);
    }
    out[index] = v as number[];
  }
  return out;
}
