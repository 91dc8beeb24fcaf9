// Maps what the S3 SDK, the network and PostgreSQL throw to StorageError codes, so retry decisions are made in one place.
import { StorageError, type StorageErrorDetails, storageErrorCode } from './errors.ts';

// Node and undici errnos that mean "the other side is unreachable right now".
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED',
  // postgres.js's own connection errors.
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
]);

// S3 error names that mean "slow down" or "try again", whatever the status code.
const S3_RETRYABLE_NAMES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeoutException',
  'ServiceUnavailable', 'InternalError', 'RequestLimitExceeded', 'TooManyRequestsException',
]);

// SQLSTATE classes PostgreSQL uses for "connection lost", "out of resources", "server shutting down",
// plus serialization failures and deadlocks, which succeed when simply run again.
const PG_RETRYABLE_CLASSES = ['08', '53', '57'];
const PG_RETRYABLE_STATES = new Set(['40001', '40P01']);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  errno?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

/** Converts any thrown value from an S3 or network call into a StorageError (returned as is when it already is one). */
export function toStorageError(err: unknown, what: string, details: Omit<StorageErrorDetails, 'cause'> = {}): StorageError {
  if (err instanceof StorageError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorShape;
  const message = `${what}: ${describe(err)}`;
  const withCause = { ...details, cause: err };
  const code = storageErrorCode(err);
  if (code !== undefined) return new StorageError(code, message, withCause);
  // The SDK's request/connection timeouts and AbortSignal.timeout() both surface as TimeoutError.
  if (e.name === 'TimeoutError') return new StorageError('TIMEOUT', message, withCause);
  if (isNetworkError(err)) return new StorageError('STORAGE_UNAVAILABLE', message, withCause);
  const status = e.$metadata?.httpStatusCode;
  if (typeof e.name === 'string' && S3_RETRYABLE_NAMES.has(e.name)) return new StorageError('STORAGE_UNAVAILABLE', message, withCause);
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) {
    return new StorageError('STORAGE_UNAVAILABLE', message, withCause);
  }
  if (e.name === 'BadDigest' || e.name === 'InvalidDigest' || e.name === 'XAmzContentSHA256Mismatch') {
    return new StorageError('HASH_MISMATCH', message, withCause);
  }
  if (status !== undefined && status >= 400) return new StorageError('STORAGE_REJECTED', message, withCause);
  // An error without an HTTP status that is not a known network error: most often a socket torn down
  // mid-response, which the SDK reports without an errno. Treat it as the store being unavailable.
  return new StorageError('STORAGE_UNAVAILABLE', message, withCause);
}

/** Whether a PostgreSQL or driver error means the database is unreachable/overloaded rather than the query wrong. */
export function isTransientDatabaseError(err: unknown): boolean {
  if (isNetworkError(err)) return true;
  const code = (err as ErrorShape | null)?.code;
  if (typeof code !== 'string' || code.length !== 5) return false;
  return PG_RETRYABLE_STATES.has(code) || PG_RETRYABLE_CLASSES.includes(code.slice(0, 2));
}

/** A transient database failure as retryable STORAGE_UNAVAILABLE; any other error (a bug, a constraint violation) unchanged. */
export function classifyDatabaseError(err: unknown, what: string, details: Omit<StorageErrorDetails, 'cause'> = {}): unknown {
  return isTransientDatabaseError(err) ? new StorageError('STORAGE_UNAVAILABLE', `${what}: ${describe(err)}`, { ...details, cause: err }) : err;
}

/** Runs a database call, rethrowing its failure through classifyDatabaseError. */
export async function withDatabaseErrors<T>(what: string, run: () => Promise<T>, details: Omit<StorageErrorDetails, 'cause'> = {}): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw classifyDatabaseError(err, what, details);
  }
}

/** A short, single-line description of any thrown value, for messages and failure reports. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as ErrorShape).code;
    const status = (err as ErrorShape).$metadata?.httpStatusCode;
    const extra = [typeof code === 'string' ? code : undefined, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean);
    const text = err.message || err.name;
    return extra.length ? `${text} (${extra.join(', ')})` : text;
  }
  return String(err);
}

function isNetworkError(err: unknown): boolean {
  // Walk `cause` a few levels: fetch and the SDK wrap the socket error.
  let e: unknown = err;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as ErrorShape).code;
    if (typeof code === 'string' && NETWORK_ERRNOS.has(code)) return true;
    e = (e as ErrorShape).cause;
  }
  return false;
}
