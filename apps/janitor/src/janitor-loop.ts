// Runs janitor passes: one, or (loop) one every interval until the signal aborts, always finishing the current pass.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JanitorSummary } from '@ingest/ingest';

/** Options of runJanitor. */
export interface RunJanitorOptions {
  /** One pass of the runtime; safe to run in several janitors at once. */
  pass: () => Promise<JanitorSummary>;
  /** Keep going until `signal` aborts. Default false: exactly one pass. */
  loop?: boolean;
  /** Pause between the end of one pass and the start of the next. Default 30 000 ms. */
  intervalMs?: number;
  /** Stops the loop; a pass already running is finished first. */
  signal?: AbortSignal;
  onSummary: (summary: JanitorSummary) => void;
  /** Loop mode only: a failed pass is reported and the loop goes on. In one-shot mode the error is thrown. */
  onError: (err: unknown) => void;
}

/** Resolves after the single pass (one-shot) or once the signal has stopped the loop; returns the passes run. */
export async function runJanitor(options: RunJanitorOptions): Promise<number> {
  const { pass, loop = false, intervalMs = 30_000, signal, onSummary, onError } = options;
  if (!loop) {
    onSummary(await pass());
    return 1;
  }
  let passes = 0;
  while (!signal?.aborted) {
    try {
      onSummary(await pass());
    } catch (err) {
      onError(err);
    }
    passes++;
    try {
      await sleep(intervalMs, undefined, signal === undefined ? {} : { signal });
    } catch (err) {
      // Aborted while waiting: the loop condition ends it. Nothing else can reject a timer.
      if (!signal?.aborted) throw err;
    }
  }
  return passes;
}
