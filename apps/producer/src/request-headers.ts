// Validation of path ids and optional headers; problems become InvalidRequestError (400) naming the field.
import { InvalidRequestError } from '@ingest/ingest';
import { z } from 'zod';

const uuid = z.uuid();
// Keys and names end up in PostgreSQL rows and logs: printable ASCII, bounded.
const token = z.string().trim().min(1).max(200).regex(/^[\x20-\x7e]+$/, 'printable ASCII only');

/** Returns `value` when it is a UUID; otherwise throws InvalidRequestError for `field`. */
export function parseUuid(value: string, field: string): string {
  if (!uuid.safeParse(value).success) throw new InvalidRequestError([{ field, message: 'must be a UUID' }]);
  return value.toLowerCase();
}

/** Reads an optional single-valued header; a repeated or malformed one is a 400 naming it. */
export function optionalHeader(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const raw = headers[name.toLowerCase()];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw new InvalidRequestError([{ field: name, message: 'must be given once' }]);
  const parsed = token.safeParse(raw);
  if (!parsed.success) throw new InvalidRequestError([{ field: name, message: parsed.error.issues.map((i) => i.message).join('; ') }]);
  return parsed.data;
}
