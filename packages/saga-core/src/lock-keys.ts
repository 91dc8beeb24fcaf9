// The shape of a saga's exclusivity keys: what a definition may declare, and how the engine stores them.
import { SagaInputError } from './errors.ts';

/** What a definition's exclusivityKey or a start's lockKey may give: one key, several, or none. */
export type ExclusivityKeys = string | readonly string[] | null | undefined;

/**
 * The declared keys as the engine keeps them: distinct, in the order declared; the first is the primary (stored in
 * `lock_key`, backed by PostgreSQL's live-lock index). Throws SagaInputError for a key that is not a non-empty string.
 */
export function normalizeLockKeys(declared: ExclusivityKeys): string[] {
  if (declared === null || declared === undefined) return [];
  const keys: readonly unknown[] = typeof declared === 'string' ? [declared] : declared;
  if (!Array.isArray(keys)) throw new SagaInputError('an exclusivity key must be a string or an array of strings');
  for (const k of keys) if (typeof k !== 'string' || k.length === 0) throw new SagaInputError('an exclusivity key must be a non-empty string');
  return [...new Set(keys as string[])];
}

/** A stored saga's keys: the primary, then the others. */
export function storedLockKeys(row: { lockKey: string | null; extraLockKeys: readonly string[] | null }): string[] {
  return row.lockKey === null ? [] : [row.lockKey, ...(row.extraLockKeys ?? [])];
}
