// Every error the API can meet maps to its status and the `{error: {...}}` body; unknown errors never leak.
import { describe, expect, it } from 'vitest';
import { DocumentNotFoundError, InvalidRequestError, SourceRejectedError } from '@ingest/ingest';
import { SagaLockedError, SagaNotFoundError } from '@ingest/saga-core';
import { toErrorResponse } from '../src/error-response.ts';

describe('toErrorResponse', () => {
  it('maps InvalidRequestError to 400 with every field', () => {
    const r = toErrorResponse(new InvalidRequestError([{ field: 'filePath', message: 'Required' }, { field: 'metadata.title', message: 'Required' }]));
    expect(r.statusCode).toBe(400);
    expect(r.body.error.code).toBe('INVALID_REQUEST');
    expect(r.body.error.fields).toEqual([{ field: 'filePath', message: 'Required' }, { field: 'metadata.title', message: 'Required' }]);
  });

  it('maps SourceRejectedError to 422 naming the field', () => {
    const r = toErrorResponse(new SourceRejectedError('PATH_OUTSIDE_ROOT', 'textPath', 'textPath is outside SOURCE_ROOT'));
    expect(r.statusCode).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'PATH_OUTSIDE_ROOT', fields: [{ field: 'textPath', message: 'textPath is outside SOURCE_ROOT' }] });
  });

  it('maps encoding-at-rest refusals by their code: a missing key-encryption key 503, refused stored bytes 500', () => {
    const storageError = (code: string, message: string) => Object.assign(new Error(message), { name: 'StorageError', code });
    const key = toErrorResponse(storageError('KEY_UNAVAILABLE', 'key-encryption key k1 is not configured'));
    expect(key).toMatchObject({ statusCode: 503, internal: false, body: { error: { code: 'KEY_UNAVAILABLE', message: 'key-encryption key k1 is not configured' } } });
    expect(toErrorResponse(storageError('CHUNK_AUTH_FAILED', 'chunk 3 does not authenticate'))).toMatchObject({ statusCode: 500, body: { error: { code: 'CHUNK_AUTH_FAILED' } } });
  });

  it('maps SagaLockedError to 409 naming the holder saga', () => {
    const holder = '0b7f1c2e-8d5a-4c61-9f3e-2a1b0c9d8e7f';
    const r = toErrorResponse(new SagaLockedError('file:/data/a.bin', holder));
    expect(r.statusCode).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'LOCKED', holderSagaId: holder });
  });

  it('maps a lock error that crossed a module boundary (same name and code, other class) the same way', () => {
    const foreign = Object.assign(new Error('"file:x" is locked by saga s1'), { name: 'SagaLockedError', code: 'LOCKED', holderSagaId: 's1' });
    expect(toErrorResponse(foreign)).toMatchObject({ statusCode: 409, body: { error: { holderSagaId: 's1' } } });
  });

  it('maps missing sagas and documents to 404', () => {
    expect(toErrorResponse(new SagaNotFoundError('x')).statusCode).toBe(404);
    expect(toErrorResponse(new DocumentNotFoundError('y')).body.error.code).toBe('DOCUMENT_NOT_FOUND');
  });

  it('maps a body that is not JSON to 400 INVALID_REQUEST and a huge one to 413', () => {
    const bad = Object.assign(new SyntaxError('Unexpected token'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 });
    expect(toErrorResponse(bad)).toMatchObject({ statusCode: 400, body: { error: { code: 'INVALID_REQUEST', fields: [{ field: '(body)' }] } } });
    const big = Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(toErrorResponse(big).statusCode).toBe(413);
  });

  it('answers anything else with a generic 500 that does not repeat the message', () => {
    const r = toErrorResponse(new Error('connection to postgres://user:pw@db failed'));
    expect(r).toEqual({ statusCode: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } }, internal: true });
    expect(toErrorResponse('a string was thrown').statusCode).toBe(500);
  });
});
