// The CLI sends <file> relative to SOURCE_ROOT and refuses absolute paths outside it.
import { describe, expect, it } from 'vitest';
import { toSourceRelative } from '../src/source-path.ts';

describe('toSourceRelative', () => {
  it('keeps relative paths and relativizes absolute ones inside the root', () => {
    expect(toSourceRelative('a/b.bin', '/data/src')).toBe('a/b.bin');
    expect(toSourceRelative('/data/src/a/b.bin', '/data/src')).toBe('a/b.bin');
    expect(toSourceRelative('/data/src/..notparent/x', '/data/src/')).toBe('..notparent/x');
  });

  it('refuses absolute paths outside the root, and the root itself', () => {
    expect(() => toSourceRelative('/data/other/b.bin', '/data/src')).toThrow(/not inside SOURCE_ROOT/);
    expect(() => toSourceRelative('/data/src/../b.bin', '/data/src')).toThrow(/not inside SOURCE_ROOT/);
    expect(() => toSourceRelative('/data/src', '/data/src')).toThrow(/not inside SOURCE_ROOT/);
  });
});
