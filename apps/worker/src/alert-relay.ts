// Workers deliver alerts to the webhook every few seconds (the janitor's pass is the backstop): an operator hears of
// a failed rollback within seconds, not at the next CronJob run. Claims use SKIP LOCKED, so any number of workers may.
import type { Logger } from 'pino';
import type { AlertDeliveryResult } from '@ingest/ops';

/** A running relay; stop() waits for the delivery in progress. */
export interface AlertRelay {
  stop(): Promise<void>;
}

/** Calls `deliver` every `intervalMs` (0: never) until stop(); a failed call is logged and the next one tries again. */
export function startAlertRelay(deliver: () => Promise<AlertDeliveryResult | null>, intervalMs: number, logger: Logger): AlertRelay {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = intervalMs === 0;
  const tick = (): void => {
    running = deliver()
      .then((r) => {
        if (r && r.attempted > 0) logger.info(r, 'alert deliveries');
        // Nothing to deliver (no webhook configured) stops the loop for good.
        if (r === null) stopped = true;
      })
      .catch((err: unknown) => logger.warn({ err }, 'alert delivery pass failed; next one after the interval'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  if (!stopped) timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
