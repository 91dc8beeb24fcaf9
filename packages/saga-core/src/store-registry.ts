// The stores a saga's steps write to, declared on its definition: how to undo a leftover and how to tell whether
// it is still there. The janitor's retries and a consistency checker resolve every leftover through this one table.
import { SagaError } from './errors.ts';
import type { JsonValue } from './json.ts';

/** A recorded leftover as a store sees it (a `failed_cleanups` row). */
export interface LeftoverRecord {
  sagaId: string;
  /** The step whose compensation left it. */
  step: string;
  store: string;
  key: string;
  /** What the compensation attached (CompensationFailed leftovers' `details`), or null. */
  details: { readonly [key: string]: JsonValue } | null;
}

/** What `undo` receives besides the key. */
export interface UndoContext extends LeftoverRecord {
  /** 1-based attempt of this leftover's cleanup. */
  attempts: number;
  /** Frees an exclusivity key if the leftover's saga still holds it (a leftover of the lock itself). */
  releaseExclusivity(lockKey: string): Promise<boolean>;
}

/** What `exists` receives besides the key. */
export interface ExistsContext extends LeftoverRecord {
  /** Stops a slow look (a checker being shut down). */
  signal?: AbortSignal;
}

/** One store a saga's steps touch. */
export interface LeftoverStore {
  /** Removes the leftover named by `key`; idempotent; throws when it could not (the janitor retries with backoff). */
  undo(key: string, leftover: UndoContext): Promise<void>;
  /** Whether the leftover is still there; true when it cannot be told (a checker then trusts the record). */
  exists(key: string, leftover: ExistsContext): Promise<boolean>;
}

/** A saga's stores by name; the names type its leftovers (Leftover<S>, CompensationFailed<S>). */
export type StoreRegistry<S extends string = string> = { readonly [K in S]: LeftoverStore };

/** The store names of a registry. */
export type StoreName<R> = keyof R & string;

/** A leftover names a store its saga does not declare (a saga bug: fix the name or declare the store). */
export class UndeclaredStoreError extends SagaError {
  readonly store: string;

  constructor(sagaName: string, store: string, declared: readonly string[]) {
    super('UNDECLARED_STORE', `saga "${sagaName}" declares no store "${store}" (declared: ${declared.length > 0 ? declared.join(', ') : 'none'})`);
    this.store = store;
  }
}

/** The declared store of that name; throws UndeclaredStoreError. */
export function resolveStore(sagaName: string, registry: StoreRegistry | undefined, store: string): LeftoverStore {
  const found = registry && Object.hasOwn(registry, store) ? registry[store] : undefined;
  if (!found) throw new UndeclaredStoreError(sagaName, store, registry ? Object.keys(registry) : []);
  return found;
}

/** Problems of a registry, for defineSaga. */
export function storeRegistryProblems(registry: unknown): string[] {
  if (registry === undefined) return [];
  if (registry === null || typeof registry !== 'object') return ['stores must be an object of { undo, exists } by store name'];
  const out: string[] = [];
  for (const [name, store] of Object.entries(registry as Record<string, unknown>)) {
    const s = store as Partial<LeftoverStore> | null;
    if (typeof s?.undo !== 'function') out.push(`stores.${name}: undo must be a function`);
    if (typeof s?.exists !== 'function') out.push(`stores.${name}: exists must be a function`);
  }
  return out;
}
