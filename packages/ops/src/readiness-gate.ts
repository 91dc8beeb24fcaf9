// Readiness that means something: a probe of every dependency run on a fixed cadence, with hysteresis, whose state
// decides whether a process takes work (the worker pauses its consumers) and what its /readyz answers. Transitions
// are logged once; every probe is counted in metrics.
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

/** One probe's result: `ok`, and per check "ok" or what failed (the shape of runtime.checkHealth()). */
export interface ProbeReport {
  ok: boolean;
  checks: Record<string, string>;
}

/** What the gate reports (the /readyz body): its state, the last probe's checks, and when that probe ran. */
export interface ReadinessState {
  ready: boolean;
  checks: Record<string, string>;
  /** ISO time of the last probe; null before the first. */
  probedAt: string | null;
}

/** Options of startReadinessGate. */
export interface ReadinessGateOptions {
  probe: () => Promise<ProbeReport>;
  /** Time between the end of one probe and the start of the next. */
  intervalMs: number;
  /** Consecutive probes that must agree before a ready process turns not ready, or back (hysteresis). The first
   * passing probe after start makes a process ready at once: start-up is not delayed. */
  threshold: number;
  /** Called on each transition, awaited before the next probe (pause or resume consumers). Errors are logged. */
  onChange?: (ready: boolean, state: ReadinessState) => Promise<void> | void;
  logger: Logger;
  /** Where ingest_ready, ingest_readiness_check_ok and ingest_readiness_probes_total are registered. */
  registry?: Registry;
}

/** A running gate: its current state, and stop() (waits for a probe in flight). */
export interface ReadinessGate {
  state(): ReadinessState;
  stop(): Promise<void>;
}

/** Starts probing at once; the process is not ready until a probe passes. */
export function startReadinessGate(options: ReadinessGateOptions): ReadinessGate {
  const { logger } = options;
  let ready = false;
  let everReady = false;
  let streak = 0;
  let last: ReadinessState = { ready: false, checks: {}, probedAt: null };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const readyGauge = options.registry ? new Gauge({ name: 'ingest_ready', help: 'This process is ready and takes work (1) or not (0)', registers: [options.registry] }) : undefined;
  const checkGauge = options.registry
    ? new Gauge({ name: 'ingest_readiness_check_ok', help: 'Last readiness probe per dependency: 1 ok, 0 failing', labelNames: ['check'] as const, registers: [options.registry] })
    : undefined;
  const probes = options.registry
    ? new Counter({ name: 'ingest_readiness_probes_total', help: 'Readiness probes run, by result', labelNames: ['result'] as const, registers: [options.registry] })
    : undefined;
  readyGauge?.set(0);

  const probeOnce = async (): Promise<void> => {
    let report: ProbeReport;
    try {
      report = await options.probe();
    } catch (err) {
      report = { ok: false, checks: { probe: err instanceof Error ? err.message : String(err) } };
    }
    probes?.inc({ result: report.ok ? 'pass' : 'fail' });
    for (const [check, value] of Object.entries(report.checks)) checkGauge?.set({ check }, value === 'ok' ? 1 : 0);
    // A probe that disagrees with the current state lengthens the streak; one that agrees resets it.
    streak = report.ok === ready ? 0 : streak + 1;
    const flip = streak >= options.threshold || (report.ok && !everReady);
    const next = flip ? report.ok : ready;
    last = { ready: next, checks: report.checks, probedAt: new Date().toISOString() };
    if (!flip) return;
    ready = next;
    everReady ||= next;
    streak = 0;
    readyGauge?.set(next ? 1 : 0);
    const failing = Object.fromEntries(Object.entries(report.checks).filter(([, v]) => v !== 'ok'));
    if (next) logger.info({ checks: report.checks }, 'ready: every dependency answers');
    else logger.warn({ failing }, 'not ready: a dependency is missing or unreachable');
    try {
      await options.onChange?.(next, last);
    } catch (err) {
      logger.error({ err }, 'readiness transition failed');
    }
  };

  let inFlight: Promise<void> = Promise.resolve();
  const loop = (): void => {
    inFlight = probeOnce().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.intervalMs);
    });
  };
  logger.info({ intervalMs: options.intervalMs, threshold: options.threshold }, 'readiness probing started');
  loop();

  return {
    state: () => last,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
