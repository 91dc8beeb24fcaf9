// One wiki service over HTTP: the internal token on every call, a per-call timeout, an opossum breaker, and the
// rule the saga's retry policy relies on (network trouble and 5xx are retryable, a 4xx is a final answer).
import CircuitBreaker from 'opossum';
import { SagaRollbackRequired } from '@ingest/saga-core';
import { ServiceUnavailableError } from './errors.ts';
import { INTERNAL_TOKEN_HEADER } from './internal-token.ts';

/** Options of createServiceClient. */
export interface ServiceClientOptions {
  /** Names the service in errors (`filesystem`, `git`). */
  name: string;
  baseUrl: string;
  /** Sent as X-INTERNAL-TOKEN; never logged, never in an error. */
  token: string;
  /** One HTTP call not answered after this long fails as SERVICE_TIMEOUT. Default 10 000 ms. */
  callTimeoutMs?: number;
  /** How long an open breaker refuses calls before a trial call. Default 5 000 ms. */
  breakerResetMs?: number;
}

/** One call's options. */
export interface CallOptions {
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
  query?: Record<string, string>;
}

/** An answer with a 2xx status (or a 404 when the caller allows it). */
export interface ServiceAnswer {
  status: number;
  body: unknown;
}

/** A wiki service's client. */
export interface ServiceClient {
  readonly name: string;
  /** Calls the service; throws ServiceUnavailableError (retryable) or SagaRollbackRequired (a 4xx other than an allowed 404). */
  call(method: 'GET' | 'POST' | 'DELETE', pathname: string, options?: CallOptions & { allow404?: boolean }): Promise<ServiceAnswer>;
  shutdown(): void;
}

/** Reasons of a 4xx answer, which the saga reports as its failure reason. */
export function reasonOfStatus(status: number): string {
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 413) return 'TOO_LARGE';
  if (status === 422) return 'UNSAFE_PATH';
  return 'REJECTED';
}

/** Creates the client of one service. */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const base = options.baseUrl.replace(/\/+$/, '');
  const breaker = new CircuitBreaker<[() => Promise<ServiceAnswer>], ServiceAnswer>((thunk) => thunk(), {
    name: options.name,
    timeout: false,
    errorThresholdPercentage: 50,
    resetTimeout: options.breakerResetMs ?? 5_000,
    volumeThreshold: 5,
    rollingCountTimeout: 10_000,
    // A 4xx is the service working: it must not open the breaker.
    errorFilter: (err: unknown) => err instanceof SagaRollbackRequired,
  });

  const once = async (method: string, pathname: string, o: CallOptions & { allow404?: boolean }): Promise<ServiceAnswer> => {
    const signals = [AbortSignal.timeout(callTimeoutMs), ...(o.signal ? [o.signal] : [])];
    const url = new URL(base + pathname);
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { [INTERNAL_TOKEN_HEADER]: options.token };
    if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: o.body === undefined ? null : JSON.stringify(o.body), signal: AbortSignal.any(signals) });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new ServiceUnavailableError(
        options.name,
        timedOut ? 'SERVICE_TIMEOUT' : 'SERVICE_UNAVAILABLE',
        timedOut ? `${options.name} service: ${method} ${pathname} not answered within ${callTimeoutMs} ms` : `${options.name} service unreachable: ${causeText(err)}`,
      );
    }
    const text = await res.text();
    const body = parse(text);
    if (res.ok || (res.status === 404 && o.allow404)) return { status: res.status, body };
    const message = `${options.name} service answered ${res.status} to ${method} ${pathname}: ${describe(body)}`;
    if (res.status >= 500) throw new ServiceUnavailableError(options.name, 'SERVICE_ERROR', message, res.status);
    throw new SagaRollbackRequired(reasonOfStatus(res.status), message, { service: options.name, status: res.status });
  };

  return {
    name: options.name,
    async call(method, pathname, o = {}) {
      try {
        return await breaker.fire(() => once(method, pathname, o));
      } catch (err) {
        if (err instanceof Error && (err as { code?: unknown }).code === 'EOPENBREAKER') {
          throw new ServiceUnavailableError(options.name, 'BREAKER_OPEN', `${options.name} service: breaker open after repeated failures`);
        }
        throw err;
      }
    },
    shutdown: () => breaker.shutdown(),
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describe(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message).slice(0, 300);
  return String(body).slice(0, 300);
}

// The error's cause chain as text; fetch reports ECONNREFUSED only on its cause.
function causeText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 3 && e instanceof Error; i++) {
    parts.push((e as { code?: unknown }).code ? `${String((e as { code?: unknown }).code)}` : e.message);
    e = e.cause;
  }
  return parts.join(': ');
}
