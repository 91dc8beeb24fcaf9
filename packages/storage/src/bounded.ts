// Runs async work over a sequence with at most `limit` items in flight, reading the sequence lazily.

/** Calls `fn` for every item with at most `limit` calls pending; stops taking new items after the first failure and rethrows it once all pending calls settled. */
export async function forEachBounded<T>(items: Iterable<T> | AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const pending = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const item of items) {
    if (failure) break;
    const p: Promise<void> = fn(item).then(
      () => void pending.delete(p),
      (error: unknown) => {
        pending.delete(p);
        failure ??= { error };
      },
    );
    pending.add(p);
    if (pending.size >= limit) await Promise.race(pending);
  }
  await Promise.all(pending);
  if (failure) throw failure.error;
}
