// Latency bookkeeping for batch benchmarks: every unit is timed in-process from its start call to its end event.
import { performance } from 'node:perf_hooks';

/** What one timed batch produced. */
export interface BatchResult {
  size: number;
  /** Wall time from the first start call to the last end event. */
  wallMs: number;
  /** Units per second over the whole batch. */
  perSecond: number;
  latenciesMs: number[];
  p50Ms: number;
  p99Ms: number;
}

/** Nearest-rank percentile: always a latency that was really observed, which keeps p99 of small batches honest. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Tracks one batch of units started at once; end events of units it did not start (another batch's) are ignored. */
export class Batch {
  private readonly startedAt = new Map<string, number>();
  private readonly latencies: number[] = [];
  private readonly failures: string[] = [];
  private firstStartAt = Number.POSITIVE_INFINITY;
  private lastEndAt = 0;
  private settle: () => void = () => undefined;
  /** Resolves once every unit of the batch has ended, successfully or not. */
  readonly done: Promise<void>;

  constructor(readonly size: number) {
    this.done = new Promise<void>((resolve) => {
      this.settle = resolve;
    });
  }

  /** Call right before the unit's start call, so the latency includes the start call itself. */
  begin(id: string): void {
    const now = performance.now();
    this.startedAt.set(id, now);
    if (now < this.firstStartAt) this.firstStartAt = now;
  }

  /** Call from the end event; `failure` set means the unit ended but not successfully. */
  end(id: string, failure?: string): void {
    const now = performance.now();
    const t0 = this.startedAt.get(id);
    if (t0 === undefined) return;
    this.startedAt.delete(id);
    if (failure === undefined) this.latencies.push(now - t0);
    else this.failures.push(`${id}: ${failure}`);
    this.lastEndAt = Math.max(this.lastEndAt, now);
    if (this.latencies.length + this.failures.length === this.size) this.settle();
  }

  /** Waits for the batch, failing with a count rather than hanging when units get lost. */
  async wait(timeoutMs: number, what: string): Promise<BatchResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.done.then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    const ended = this.latencies.length + this.failures.length;
    if (outcome === 'timeout') throw new Error(`${what}: only ${ended} of ${this.size} ended within ${timeoutMs} ms`);
    if (this.failures.length > 0) throw new Error(`${what}: ${this.failures.length} of ${this.size} did not succeed, e.g. ${this.failures[0]}`);
    const wallMs = this.lastEndAt - this.firstStartAt;
    return {
      size: this.size,
      wallMs,
      perSecond: this.size / (wallMs / 1000),
      latenciesMs: [...this.latencies],
      p50Ms: percentile(this.latencies, 50),
      p99Ms: percentile(this.latencies, 99),
    };
  }
}
