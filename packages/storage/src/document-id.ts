// Document ids are UUIDs in every downstream store; a malformed one is refused before it reaches a query.
import { InvalidOptionError } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws INVALID_OPTION unless `id` is a UUID. */
export function assertDocumentId(id: string): void {
  if (!UUID.test(id)) throw new InvalidOptionError('documentId', `expected a UUID, got ${JSON.stringify(id)}`);
}
