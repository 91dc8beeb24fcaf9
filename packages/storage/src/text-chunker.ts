// Splits a text stream into chunks of about N characters, preferring whitespace near the boundary; never holds the whole text.

/** Text as the vector store accepts it: a Readable of bytes or strings, or any (async) iterable of them. UTF-8 for bytes. */
export type TextSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

// Pieces larger than this are decoded and appended a slice at a time, so one huge piece never becomes one huge string.
const SLICE = 64 * 1024;

/** Yields chunks of at most `targetChars` UTF-16 units; a chunk ends after whitespace when there is some in its last fifth. */
export async function* chunkText(source: TextSource, targetChars: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  const drain = function* (final: boolean): Generator<string> {
    while (pending.length > targetChars || (final && pending.length > 0)) {
      const cut = pending.length <= targetChars ? pending.length : cutPoint(pending, targetChars);
      yield pending.slice(0, cut);
      pending = pending.slice(cut);
    }
  };
  for await (const piece of source) {
    if (typeof piece === 'string') {
      for (let i = 0; i < piece.length; i += SLICE) {
        pending += piece.slice(i, i + SLICE);
        yield* drain(false);
      }
    } else {
      for (let i = 0; i < piece.byteLength; i += SLICE) {
        pending += decoder.decode(piece.subarray(i, i + SLICE), { stream: true });
        yield* drain(false);
      }
    }
  }
  pending += decoder.decode();
  yield* drain(true);
}

function cutPoint(s: string, target: number): number {
  const floor = target - Math.max(1, Math.floor(target / 5));
  for (let i = target; i > floor; i--) {
    if (isSpace(s.charCodeAt(i - 1))) return i;
  }
  // No whitespace near the boundary: cut hard, but never between the two halves of a surrogate pair.
  const c = s.charCodeAt(target - 1);
  return c >= 0xd800 && c <= 0xdbff && target > 1 ? target - 1 : target;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000;
}
