// Collaborators and tuning of the consistency checker: read-only connections to every store it cross-checks.
import type { Sql } from 'postgres';
import type { StoreRegistry } from '@ingest/saga-core';
import type { ChunkStore, KeyProvider } from '@ingest/storage';
import type { RowStore, Violation } from './violation.ts';

/** Where the checker reads from. It never writes. */
export interface InvariantDeps {
  /** Saga state, failed_cleanups, upload operations and manifests (DATABASE_URL). */
  sql: Sql;
  /** Each downstream store's connection when it is a separate database; an omitted one is `sql`. */
  storeSql?: Partial<Record<RowStore, Sql>>;
  /** The bucket holding the chunks. */
  chunkStore: ChunkStore;
  /**
   * Store registries by saga name, for "is this leftover still there"; default the ingestion saga's, read-only.
   * A leftover of a saga not listed here is reported as unknown_leftover_store.
   */
  leftoverStores?: Readonly<Record<string, StoreRegistry>>;
  /** Unwraps data keys so that `deep` can decrypt encrypted chunks; without it an encrypted document's deep check reports KEY_UNAVAILABLE. */
  keyProvider?: KeyProvider;
}

/** Options of checkInvariants. */
export interface InvariantOptions {
  /** Root under which every operation's chunks live. Default 'chunks/'. */
  keyPrefix?: string;
  /** A live saga is overdue only this long after its deadline (a rollback takes a moment). Default 60 000 ms (2 × the default lease). */
  overdueGraceMs?: number;
  /** Also read every committed chunk back and decode it (decrypt, decompress) against its stored and source SHA-256 (slow: reads every byte). Default false. */
  deep?: boolean;
  /** Rows per query and keys per judged batch. Default 500. */
  pageSize?: number;
  /** S3 HEAD/GET calls at once. Default 8. */
  parallelism?: number;
  /** Violations kept in the report; more are counted, and still passed to onViolation. Default 10 000. */
  maxViolations?: number;
  /** Called as each violation is found (the CLI prints it at once). */
  onViolation?: (violation: Violation) => void;
  /** Stops the scan between pages. */
  signal?: AbortSignal;
}

/** Options with their defaults applied. */
export type ResolvedInvariantOptions = Required<Omit<InvariantOptions, 'onViolation' | 'signal'>> & Pick<InvariantOptions, 'onViolation' | 'signal'>;

/** Applies defaults and validates; throws RangeError naming a bad option. */
export function resolveInvariantOptions(options: InvariantOptions = {}): ResolvedInvariantOptions {
  const int = (name: string, v: number | undefined, d: number, min: number): number => {
    const n = v ?? d;
    if (!Number.isInteger(n) || n < min) throw new RangeError(`checkInvariants: ${name} must be an integer >= ${min}, got ${String(v)}`);
    return n;
  };
  const keyPrefix = options.keyPrefix ?? 'chunks/';
  if (!keyPrefix.endsWith('/')) throw new RangeError(`checkInvariants: keyPrefix must end with '/', got ${keyPrefix}`);
  return {
    keyPrefix,
    overdueGraceMs: int('overdueGraceMs', options.overdueGraceMs, 60_000, 0),
    deep: options.deep ?? false,
    pageSize: int('pageSize', options.pageSize, 500, 1),
    parallelism: int('parallelism', options.parallelism, 8, 1),
    maxViolations: int('maxViolations', options.maxViolations, 10_000, 0),
    onViolation: options.onViolation,
    signal: options.signal,
  };
}
