// Bounded polling: tests wait for an observable outcome, never for a fixed time.

/** Options for waitFor. */
export interface WaitForOptions {
  /** Give up after this long. Default 30 000 ms. */
  timeoutMs?: number;
  /** Poll interval. Default 100 ms. */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

/** Polls `probe` until it returns a value other than undefined/false/null, and returns that value. */
export async function waitFor<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, options: WaitForOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 100, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const suffix = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
