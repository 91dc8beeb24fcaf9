// A deterministic embedder that needs no network: hashed character trigrams, L2-normalised, so everything runs offline.
import type { Embedder } from './embedder.ts';
import { intOption } from './options.ts';

/** Options of createLocalEmbedder. */
export interface LocalEmbedderOptions {
  /** Vector length. Default 256. */
  dimensions?: number;
}

/** Creates the built-in embedder: similar texts (sharing character trigrams) get vectors with a high dot product. */
export function createLocalEmbedder(options: LocalEmbedderOptions = {}): Embedder {
  const dimensions = intOption('dimensions', options.dimensions, 256, 8, 65_536);
  return {
    model: `local-trigram-${dimensions}`,
    dimensions,
    async embed(texts) {
      return texts.map((text) => embedOne(text, dimensions));
    },
  };
}

function embedOne(text: string, dimensions: number): number[] {
  const v = new Float64Array(dimensions);
  const s = ` ${text.toLowerCase().replace(/\s+/g, ' ')} `;
  for (let i = 0; i + 3 <= s.length; i++) {
    // FNV-1a over the three UTF-16 units: its low bits pick the dimension, its top bit the sign.
    let h = 0x811c9dc5;
    for (let j = i; j < i + 3; j++) h = Math.imul(h ^ s.charCodeAt(j), 0x01000193);
    v[(h >>> 0) % dimensions]! += h < 0 ? -1 : 1;
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return Array.from(v, (x) => (norm === 0 ? 0 : x / norm));
}
