// The pure parts of encoding at rest: the chunk codec and the local key provider (no services; milliseconds).
import { randomBytes } from 'node:crypto';
import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chunkChecksums } from '../src/checksums.ts';
import { chunkCipher, decompressChunk, decryptChunk, encodeChunk } from '../src/chunk-codec.ts';
import { createLocalKeyProvider, parseKeyList } from '../src/index.ts';

const MiB = 1024 * 1024;
const compression = { level: 3, minSavingsPercent: 10 };
const text = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(30_000)).subarray(0, MiB);
const id = { operationId: 'op-1', index: 7, key: 'chunks/op-1/00000007' };

async function roundTrip(source: Buffer, cipher = chunkCipher(randomBytes(32))) {
  const encoded = await encodeChunk(id, source, chunkChecksums(source), { compression, cipher });
  const encoding = { codec: encoded.codec, nonce: encoded.nonce, sourceSize: source.length };
  const back = await decompressChunk(id, decryptChunk(id, Buffer.from(encoded.body), encoding, cipher), encoding);
  return { encoded, encoding, back, cipher };
}

describe('chunk codec', () => {
  it('skips compressing an incompressible chunk after a cheap sample, and stores it as is', async () => {
    const source = randomBytes(MiB);
    const encoded = await encodeChunk(id, source, chunkChecksums(source), { compression, cipher: undefined });
    expect(encoded).toMatchObject({ codec: 'raw', nonce: null, storedSize: MiB });
    expect(encoded.body).toBe(source);
  });

  it('compresses text, encrypts it, and decodes it back', async () => {
    const { encoded, back } = await roundTrip(text);
    expect(encoded.codec).toBe('zstd');
    expect(encoded.storedSize).toBeLessThan(MiB / 10);
    expect(back.equals(text)).toBe(true);
  });

  it('is deterministic per chunk (same bytes, same nonce) and binds the chunk index and codec', async () => {
    const cipher = chunkCipher(randomBytes(32));
    const a = await roundTrip(text, cipher);
    const b = await roundTrip(text, cipher);
    expect(Buffer.from(b.encoded.body).equals(Buffer.from(a.encoded.body))).toBe(true);
    const other = await encodeChunk({ ...id, index: 8 }, text, chunkChecksums(text), { compression, cipher });
    expect(other.nonce).not.toBe(a.encoded.nonce);
    const body = Buffer.from(a.encoded.body);
    expect(() => decryptChunk({ ...id, index: 8 }, body, a.encoding, cipher)).toThrow(expect.objectContaining({ code: 'CHUNK_AUTH_FAILED' }));
    expect(() => decryptChunk(id, body, { ...a.encoding, codec: 'raw' }, cipher)).toThrow(expect.objectContaining({ code: 'CHUNK_AUTH_FAILED' }));
    expect(() => decryptChunk(id, body, a.encoding, chunkCipher(randomBytes(32)))).toThrow(expect.objectContaining({ code: 'CHUNK_AUTH_FAILED' }));
    expect(() => decryptChunk(id, body, a.encoding, undefined)).toThrow(expect.objectContaining({ code: 'KEY_UNAVAILABLE' }));
  });

  it('refuses a frame that decodes to more (a decompression bomb) or less than recorded, and garbage', async () => {
    const bomb = zstdCompressSync(Buffer.alloc(64 * MiB));
    await expect(decompressChunk(id, bomb, { codec: 'zstd', nonce: null, sourceSize: MiB })).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' });
    const small = zstdCompressSync(Buffer.alloc(1000));
    await expect(decompressChunk(id, small, { codec: 'zstd', nonce: null, sourceSize: 2000 })).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' });
    await expect(decompressChunk(id, randomBytes(500), { codec: 'zstd', nonce: null, sourceSize: 2000 })).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' });
  });
});

describe('local key provider', () => {
  const k1 = randomBytes(32);
  const provider = createLocalKeyProvider({ keys: new Map([['k1', k1]]), activeKeyId: 'k1' });

  it('wraps under the active key and unwraps only for the same operation', async () => {
    const dataKey = randomBytes(32);
    const wrapped = await provider.wrap(dataKey, { operationId: 'op-a' });
    expect(wrapped.keyId).toBe('k1');
    expect((await provider.unwrap(wrapped, { operationId: 'op-a' })).equals(dataKey)).toBe(true);
    await expect(provider.unwrap(wrapped, { operationId: 'op-b' })).rejects.toMatchObject({ code: 'CHUNK_AUTH_FAILED' });
    await expect(provider.unwrap({ ...wrapped, keyId: 'k9' }, { operationId: 'op-a' })).rejects.toMatchObject({ code: 'KEY_UNAVAILABLE' });
    await expect(createLocalKeyProvider({ keys: new Map() }).wrap(dataKey, { operationId: 'op-a' })).rejects.toMatchObject({ code: 'KEY_UNAVAILABLE' });
  });

  it('parses ENCRYPTION_KEYS and names a bad entry by id, never by its material', () => {
    expect([...parseKeyList(`a:${k1.toString('base64')}, b:${randomBytes(32).toString('base64')}`).keys()]).toEqual(['a', 'b']);
    const short = randomBytes(20).toString('base64');
    const err = (() => {
      try {
        parseKeyList(`a:${short}`);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toContain('key a must be 32 bytes');
    expect(err?.message).not.toContain(short);
    expect(() => parseKeyList(`:${short}`)).toThrow(/entry 1/);
    expect(() => parseKeyList(`a:${k1.toString('base64')},a:${k1.toString('base64')}`)).toThrow(/twice/);
    expect(() => createLocalKeyProvider({ keys: new Map([['a', k1]]), activeKeyId: 'b' })).toThrow(/activeKeyId/);
  });
});
