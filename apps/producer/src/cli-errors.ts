// Errors of the producer CLI, each with a machine-readable code; every one of them exits with status 2.
import type { ErrorField } from './error-response.ts';

/** Base of the CLI's errors. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The command line or the CLI's settings are wrong. */
export class CliUsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** The producer answered with an error; carries what it said so the user sees it. */
export class ProducerHttpError extends CliError {
  readonly status: number;
  readonly fields: ErrorField[];
  readonly holderSagaId: string | undefined;
  constructor(status: number, code: string, message: string, details: { fields?: ErrorField[]; holderSagaId?: string } = {}) {
    super(code, message);
    this.status = status;
    this.fields = details.fields ?? [];
    this.holderSagaId = details.holderSagaId;
  }
}

/** The producer could not be reached, or answered something that is not the API. */
export class ProducerUnreachableError extends CliError {
  constructor(url: string, cause: unknown) {
    super('PRODUCER_UNREACHABLE', `cannot reach the producer at ${url}: ${describeCause(cause)}`, { cause });
  }
}

// fetch() says only "fetch failed"; the socket error under it (ECONNREFUSED, ENOTFOUND) is what the user can act on.
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner: unknown = cause.cause;
  if (inner instanceof Error) return `${cause.message} (${'code' in inner && typeof inner.code === 'string' ? inner.code : inner.message})`;
  return cause.message;
}
