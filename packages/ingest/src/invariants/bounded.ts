// Runs an async function over an iterable with at most `limit` calls in flight, pulling items only as slots free up.

/** Calls `fn` for each item, `limit` at a time; the first error stops pulling new items and is rethrown. */
export async function forEachBounded<T>(items: Iterable<T> | AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const item of items) {
    if (failure) break;
    const p: Promise<void> = fn(item).then(
      () => void inFlight.delete(p),
      (error: unknown) => {
        failure ??= { error };
        inFlight.delete(p);
      },
    );
    inFlight.add(p);
    if (inFlight.size >= limit) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
}
