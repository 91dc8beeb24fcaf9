// Small validators used by every factory, so that a bad option fails at construction with its name.
import { InvalidOptionError } from './errors.ts';

/** Returns `value ?? fallback` after checking it is an integer in [min, max]. */
export function intOption(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidOptionError(name, `expected an integer in [${min}, ${max}], got ${String(value)}`);
  return v;
}

/** Returns the string after checking it is non-empty. */
export function stringOption(name: string, value: string | undefined): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidOptionError(name, 'expected a non-empty string');
  return value;
}

/** Checks that a collaborator (client, database, embedder) was passed. */
export function requiredOption<T>(name: string, value: T | undefined | null): T {
  if (value === undefined || value === null) throw new InvalidOptionError(name, 'is required');
  return value;
}
