// Every error this package throws: one base class whose `code` says what went wrong and `retryable` whether to try again.

/** Codes a caller may retry with backoff: the store was unreachable, slow, or its breaker is open. */
export const RETRYABLE_CODES = ['STORAGE_UNAVAILABLE', 'TIMEOUT', 'CIRCUIT_OPEN'] as const;

/** Codes that no retry can fix: the saga must roll back. */
export const FATAL_CODES = [
  'FILE_NOT_FOUND',
  'SOURCE_REPLACED',
  'NOT_A_REGULAR_FILE',
  'METADATA_CORRUPT',
  'HASH_MISMATCH',
  'SIZE_MISMATCH',
  'CHUNK_COUNT_MISMATCH',
  'CANCELLED',
  'UPLOAD_INCOMPLETE',
  'OPERATION_NOT_FOUND',
  'OPERATION_CONFLICT',
  'DOCUMENT_CONFLICT',
  'STORAGE_REJECTED',
  'EMBEDDING_FAILED',
  'INVALID_OPTION',
  // Encoded chunks (encoding at rest): a chunk whose authentication tag does not verify (tampered, swapped, replayed),
  // a data key whose key-encryption key is not (or no longer) available, a stored chunk that does not decode.
  'CHUNK_AUTH_FAILED',
  'KEY_UNAVAILABLE',
  'CHUNK_CORRUPT',
] as const;

/** A retryable error code. */
export type RetryableCode = (typeof RETRYABLE_CODES)[number];
/** A fatal error code. */
export type FatalCode = (typeof FATAL_CODES)[number];
/** Every code a StorageError can carry. */
export type StorageErrorCode = RetryableCode | FatalCode;

const retryable: ReadonlySet<string> = new Set(RETRYABLE_CODES);
const known: ReadonlySet<string> = new Set([...RETRYABLE_CODES, ...FATAL_CODES]);

/** The ids a caller needs to act on an error; all optional because not every error concerns a chunk. */
export interface StorageErrorDetails {
  operationId?: string;
  key?: string;
  chunkIndex?: number;
  documentId?: string;
  cause?: unknown;
}

/** The one error class of this package; `code` is machine-readable, `retryable` follows from it. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  readonly retryable: boolean;
  readonly operationId: string | undefined;
  readonly key: string | undefined;
  readonly chunkIndex: number | undefined;
  readonly documentId: string | undefined;

  constructor(code: StorageErrorCode, message: string, details: StorageErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = retryable.has(code);
    this.operationId = details.operationId;
    this.key = details.key;
    this.chunkIndex = details.chunkIndex;
    this.documentId = details.documentId;
  }
}

/** Thrown at construction when a factory is given a bad option; names the option. */
export class InvalidOptionError extends StorageError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('INVALID_OPTION', `invalid option ${option}: ${message}`);
    this.option = option;
  }
}

/** Whether `err` is a StorageError (or one serialized into a job) with a retryable code; decided by name/code, not instanceof. */
export function isRetryableStorageError(err: unknown): boolean {
  const code = storageErrorCode(err);
  return code !== undefined && retryable.has(code);
}

/** The StorageError code of `err`, also for errors that lost their prototype in serialization; undefined for other errors. */
export function storageErrorCode(err: unknown): StorageErrorCode | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, code } = err as { name?: unknown; code?: unknown };
  if (typeof code !== 'string' || !known.has(code)) return undefined;
  // A bare `code` such as ETIMEDOUT is never in `known`; requiring the name too keeps foreign errors out.
  if (name !== undefined && name !== 'StorageError') return undefined;
  return code as StorageErrorCode;
}
