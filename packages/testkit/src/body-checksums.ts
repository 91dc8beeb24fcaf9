// Recomputes the integrity headers of a request whose body the fault proxy rewrote, so a server that
// checks them sees a consistent request. The signature itself cannot be fixed; s3rver ignores it.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { OutgoingHttpHeaders } from 'node:http';

/** Returns `headers` with length and checksums describing `body` instead of the original body. */
export function withBodyChecksums(headers: OutgoingHttpHeaders, body: Buffer): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...headers, 'content-length': String(body.length) };
  delete out['transfer-encoding'];
  if (out['content-md5'] !== undefined) out['content-md5'] = createHash('md5').update(body).digest('base64');
  if (out['x-amz-checksum-crc32'] !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(crc32(body) >>> 0);
    out['x-amz-checksum-crc32'] = b.toString('base64');
  }
  if (out['x-amz-checksum-sha1'] !== undefined) out['x-amz-checksum-sha1'] = createHash('sha1').update(body).digest('base64');
  if (out['x-amz-checksum-sha256'] !== undefined) out['x-amz-checksum-sha256'] = createHash('sha256').update(body).digest('base64');
  // UNSIGNED-PAYLOAD and streaming markers describe no particular body and stay as they are.
  const payloadHash = out['x-amz-content-sha256'];
  if (typeof payloadHash === 'string' && /^[0-9a-f]{64}$/.test(payloadHash)) {
    out['x-amz-content-sha256'] = createHash('sha256').update(body).digest('hex');
  }
  return out;
}
