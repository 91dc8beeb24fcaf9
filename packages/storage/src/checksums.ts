// Hash helpers and the reading of the checksum an S3-compatible server reports for what it stored.
import { createHash } from 'node:crypto';

/** SHA-256 and MD5 of one chunk, both lowercase hex. */
export interface ChunkChecksums {
  sha256: string;
  md5: string;
}

/** A checksum the server reports for a stored object, as lowercase hex. */
export interface ServerChecksum {
  algorithm: 'sha256' | 'md5';
  hex: string;
}

const HEX_MD5 = /^[0-9a-f]{32}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Computes the chunk's SHA-256 and MD5 (one pass each over the same bytes). */
export function chunkChecksums(bytes: Uint8Array): ChunkChecksums {
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
  };
}

/** Whether `s` is a lowercase hex SHA-256. */
export function isSha256Hex(s: unknown): s is string {
  return typeof s === 'string' && HEX_SHA256.test(s);
}

/** Whether `s` is a lowercase hex MD5. */
export function isMd5Hex(s: unknown): s is string {
  return typeof s === 'string' && HEX_MD5.test(s);
}

/** Hex to the base64 form S3 headers use (Content-MD5, x-amz-checksum-sha256). */
export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/**
 * What the server says it stored: its full-object SHA-256 when it reports one (AWS S3 with ChecksumMode,
 * MinIO), else the ETag when that is a plain MD5 (single-part upload without KMS), else nothing usable.
 */
export function serverChecksum(reported: { ChecksumSHA256?: string | undefined; ETag?: string | undefined }): ServerChecksum | undefined {
  const sha = reported.ChecksumSHA256;
  // Composite checksums of multipart objects end in "-<parts>" and are not a hash of the bytes.
  if (sha && !/-\d+$/.test(sha)) {
    const hex = Buffer.from(sha, 'base64').toString('hex');
    if (isSha256Hex(hex)) return { algorithm: 'sha256', hex };
  }
  const etag = reported.ETag?.replace(/"/g, '').toLowerCase();
  if (etag && isMd5Hex(etag)) return { algorithm: 'md5', hex: etag };
  return undefined;
}

/** The expected hex for a server checksum of the given algorithm. */
export function expectedHex(checksums: ChunkChecksums, algorithm: ServerChecksum['algorithm']): string {
  return algorithm === 'sha256' ? checksums.sha256 : checksums.md5;
}
