// Errors of the ingestion API, each with a machine-readable code the producer maps to an HTTP status.

/** Base of ingestion errors. */
export class IngestError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One invalid field of a request. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The request is malformed (HTTP 400); `fields` names every invalid field. */
export class InvalidRequestError extends IngestError {
  readonly fields: FieldProblem[];
  constructor(fields: FieldProblem[]) {
    super('INVALID_REQUEST', `invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
    this.fields = fields;
  }
}

/** The source path is unusable (HTTP 422): outside SOURCE_ROOT, missing, not a regular file, too large. */
export class SourceRejectedError extends IngestError {
  readonly field: string;
  constructor(code: 'PATH_OUTSIDE_ROOT' | 'SOURCE_NOT_FOUND' | 'NOT_A_REGULAR_FILE' | 'SOURCE_REPLACED' | 'SOURCE_TOO_LARGE' | 'SOURCE_TOO_SMALL', field: string, message: string) {
    super(code, message);
    this.field = field;
  }
}

/** Configuration is invalid; the message names each bad variable. */
export class ConfigError extends IngestError {
  constructor(problems: string[]) {
    super('INVALID_CONFIG', `invalid configuration: ${problems.join('; ')}`);
  }
}

/** No such document (HTTP 404). */
export class DocumentNotFoundError extends IngestError {
  constructor(documentId: string) {
    super('DOCUMENT_NOT_FOUND', `document ${documentId} does not exist`);
  }
}

/** The document is being deleted (HTTP 409): its content is no longer served and it cannot be replaced. */
export class DocumentDeletingError extends IngestError {
  readonly holderSagaId: string | undefined;
  constructor(documentId: string, holderSagaId: string | null) {
    super('DOCUMENT_DELETING', `document ${documentId} is being deleted${holderSagaId ? ` by saga ${holderSagaId}` : ''}`);
    this.holderSagaId = holderSagaId ?? undefined;
  }
}
