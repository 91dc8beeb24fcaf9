import { describe, expect, it } from 'vitest';
import http from 'node:http';
import { DeleteObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { withBodyChecksums } from '../src/body-checksums.ts';

/** Captures one real DeleteObjects request exactly as the SDK sends it. */
async function captureDeleteObjects(keys: string[]): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  let captured: { headers: http.IncomingHttpHeaders; body: Buffer } | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured = { headers: req.headers, body: Buffer.concat(chunks) };
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await client.send(new DeleteObjectsCommand({ Bucket: 'b', Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (!captured) throw new Error('no request captured');
  return captured;
}

const INTEGRITY = ['content-length', 'content-md5', 'x-amz-checksum-crc32', 'x-amz-checksum-sha1', 'x-amz-checksum-sha256', 'x-amz-content-sha256'];
const integrity = (h: http.IncomingHttpHeaders | http.OutgoingHttpHeaders) =>
  Object.fromEntries(INTEGRITY.filter((k) => h[k] !== undefined).map((k) => [k, String(h[k])]));

describe('withBodyChecksums', () => {
  it('recomputes the SDK’s own integrity headers for a DeleteObjects body', async () => {
    const original = await captureDeleteObjects(['a', 'b']);
    // The SDK must have sent at least one checksum, or this test would check nothing.
    expect(Object.keys(integrity(original.headers)).filter((k) => k !== 'content-length').length).toBeGreaterThan(0);
    expect(integrity(withBodyChecksums(original.headers, original.body))).toEqual(integrity(original.headers));

    const other = await captureDeleteObjects(['a']);
    expect(integrity(withBodyChecksums(original.headers, other.body))).toEqual(integrity(other.headers));
  });
});
