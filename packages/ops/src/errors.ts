// Errors of the operator API, each with a machine-readable code the producer maps to an HTTP status.

/** One invalid query parameter. */
export interface QueryFieldProblem {
  field: string;
  message: string;
}

/** Base of the operator API's errors. */
export class OpsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad filters or pagination (HTTP 400 INVALID_REQUEST with `fields`). */
export class InvalidQueryError extends OpsError {
  readonly fields: QueryFieldProblem[];
  constructor(fields: QueryFieldProblem[]) {
    super('INVALID_REQUEST', `invalid query: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
    this.fields = fields;
  }
}

/** No such leftover or dead letter (HTTP 404). */
export class OpsNotFoundError extends OpsError {
  constructor(what: 'CLEANUP_NOT_FOUND' | 'DEAD_LETTER_NOT_FOUND', id: string) {
    super(what, `${what === 'CLEANUP_NOT_FOUND' ? 'leftover' : 'dead letter'} ${id} does not exist`);
  }
}
