// The listing's query parameters: defaults, coercion, and a 400 naming every invalid or unknown parameter.
import { describe, expect, it } from 'vitest';
import { parseDocumentListQuery } from '../src/document-listing.ts';
import { InvalidRequestError } from '../src/errors.ts';

function fieldsOf(query: unknown): string[] {
  try {
    parseDocumentListQuery(query);
  } catch (err) {
    if (err instanceof InvalidRequestError) return err.fields.map((f) => f.field).sort();
    throw err;
  }
  return [];
}

describe('document listing query', () => {
  it('defaults to 50 per page and coerces the limit', () => {
    expect(parseDocumentListQuery({})).toEqual({ limit: 50 });
    expect(parseDocumentListQuery({ limit: '7', status: 'active,deleted', category: 'finance' })).toEqual({ limit: 7, status: ['active', 'deleted'], category: 'finance' });
  });

  it('accepts a cursor it returned and ISO instants with an offset', () => {
    const q = { cursor: '1796022587312123_0efa0fa0-38a7-454f-bde7-c8842e718e84', createdAfter: '2026-11-30T07:00:00Z', createdBefore: '2026-11-30T08:00:00+01:00' };
    expect(parseDocumentListQuery(q)).toMatchObject(q);
  });

  it('names each invalid or unknown parameter', () => {
    expect(fieldsOf({ limit: '0', status: 'gone', cursor: 'abc', securityLevel: 'secret', createdAfter: 'yesterday', order: 'asc' })).toEqual(
      ['(query)', 'createdAfter', 'cursor', 'limit', 'securityLevel', 'status'].sort(),
    );
    expect(fieldsOf({ limit: '501' })).toEqual(['limit']);
    expect(fieldsOf({ status: '' })).toEqual(['status']);
  });
});
