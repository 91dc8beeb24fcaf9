// The whole-file SHA-256 of a source, fed chunk by chunk in order by the upload and by the integrity gate.
import { createHash } from 'node:crypto';

/** Receives every byte of the source in order, and each chunk's own SHA-256 once that chunk's bytes were all fed. */
export interface WholeFileHash {
  /** Feeds the next bytes of the source. */
  update(bytes: Uint8Array): void;
  /** The SHA-256 (hex) of the chunk whose bytes were fed last. */
  chunkHashed(sha256: string): void;
  /** The whole-file SHA-256 (hex), once every byte was fed. */
  digest(): string;
}

/** A whole-file hash for a source of `chunkCount` chunks. */
export function createWholeFileHash(chunkCount: number): WholeFileHash {
  if (chunkCount !== 1) {
    const h = createHash('sha256');
    return { update: (bytes) => void h.update(bytes), chunkHashed: () => undefined, digest: () => h.digest('hex') };
  }
  // A source of exactly one chunk: that chunk is every byte of the file, so its SHA-256, which the caller computes
  // anyway, is the whole-file SHA-256. Hashing the same bytes a second time would only cost CPU (a small document's
  // upload and verification are CPU-bound).
  let only: string | undefined;
  return {
    update: () => undefined,
    chunkHashed: (sha256) => {
      only = sha256;
    },
    digest: () => {
      if (only === undefined) throw new Error('whole-file hash of a one-chunk source read before its chunk was hashed');
      return only;
    },
  };
}
