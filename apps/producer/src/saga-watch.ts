// Polls a saga's status until it ends, reporting each observation.
import { setTimeout as sleep } from 'node:timers/promises';
import type { IngestionStatus } from '@ingest/ingest';

/** Options of watchSaga. */
export interface WatchSagaOptions {
  /** Poll interval. Default 500 ms. */
  intervalMs?: number;
  /** Called with every status read, the last one included. */
  onStatus?: (status: IngestionStatus) => void;
}

/** True while the saga can still change: it is running or compensating. */
export function isSagaLive(status: IngestionStatus): boolean {
  return status.status === 'running' || status.status === 'compensating';
}

/** Reads the status every `intervalMs` until the saga has ended, and returns the final status. */
export async function watchSaga(read: () => Promise<IngestionStatus>, options: WatchSagaOptions = {}): Promise<IngestionStatus> {
  const { intervalMs = 500, onStatus } = options;
  for (;;) {
    const status = await read();
    onStatus?.(status);
    if (!isSagaLive(status)) return status;
    await sleep(intervalMs);
  }
}
