// Live updates by polling that backs off: every `minMs` while answers come, doubling up to `maxMs` on errors, paused
// while the tab is hidden. One request in flight at a time, whatever the fleet's size.
/// <reference lib="dom" />

/** A running poller; stop() ends it. */
export interface Poller {
  stop(): void;
}

/** Calls `tick` now and then again and again; `onError` is told each failure. */
export function startPoller(tick: () => Promise<void>, onError: (err: unknown) => void, minMs = 1500, maxMs = 30_000): Poller {
  let stopped = false;
  let delay = minMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async (): Promise<void> => {
    if (stopped) return;
    if (document.hidden) {
      timer = setTimeout(run, minMs);
      return;
    }
    try {
      await tick();
      delay = minMs;
    } catch (err) {
      onError(err);
      delay = Math.min(maxMs, delay * 2);
    }
    if (!stopped) timer = setTimeout(run, delay);
  };
  void run();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
