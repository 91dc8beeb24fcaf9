// Errors of the wiki saga's calls and requests, each with a machine-readable `code`.

/** A call to a wiki service that may succeed if retried: connection refused or reset, timeout, 5xx, open breaker. */
export class ServiceUnavailableError extends Error {
  readonly code: string;
  readonly service: string;
  readonly status: number | null;

  constructor(service: string, code: 'SERVICE_UNAVAILABLE' | 'SERVICE_TIMEOUT' | 'SERVICE_ERROR' | 'BREAKER_OPEN', message: string, status: number | null = null, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ServiceUnavailableError';
    this.code = code;
    this.service = service;
    this.status = status;
  }
}

/** One problem with a wiki-generation request: which field, what is wrong. */
export interface WikiFieldProblem {
  field: string;
  message: string;
}

/** A wiki-generation request that cannot be accepted; `status` is the HTTP status the producer answers. */
export class WikiRequestError extends Error {
  readonly code: 'INVALID_REQUEST' | 'UNSAFE_PATH' | 'TOO_MANY_FILES';
  readonly status: 400 | 413 | 422;
  readonly fields: WikiFieldProblem[];

  constructor(code: WikiRequestError['code'], status: WikiRequestError['status'], fields: WikiFieldProblem[]) {
    super(`${code === 'UNSAFE_PATH' ? 'unsafe path' : 'invalid wiki-generation request'}: ${fields.map((p) => `${p.field} ${p.message}`).join('; ')}`);
    this.name = 'WikiRequestError';
    this.code = code;
    this.status = status;
    this.fields = fields;
  }
}
