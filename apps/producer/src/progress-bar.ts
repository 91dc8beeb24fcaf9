// The --wait progress bar (cli-progress on stderr): percent, throughput in MB/s, ETA, and the saga's state.
import { Presets, SingleBar } from 'cli-progress';
import type { IngestionStatus } from '@ingest/ingest';

/** A bar fed with successive statuses. */
export interface SagaProgressBar {
  update(status: IngestionStatus): void;
  stop(): void;
}

const MB = 1_000_000;

/** Starts a bar on stderr (so stdout stays machine-readable); draws nothing when stderr is not a terminal. */
export function startSagaProgressBar(): SagaProgressBar {
  const bar = new SingleBar(
    {
      format: '{bar} {percentage}% | {doneMb}/{totalMb} MB | {speed} MB/s | ETA {etaText} | {state}',
      hideCursor: true,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  // Percent units: the total size is unknown (0) until the upload step has looked at the file.
  bar.start(100, 0, payload(undefined));
  return {
    update(status) {
      bar.update(Math.min(100, Math.max(0, Math.floor(status.progress.percent))), payload(status));
    },
    stop() {
      bar.stop();
    },
  };
}

function payload(status: IngestionStatus | undefined): Record<string, string> {
  if (status === undefined) return { doneMb: '0.0', totalMb: '?', speed: '0.0', etaText: '--', state: 'submitted' };
  const p = status.progress;
  return {
    doneMb: (p.bytesDone / MB).toFixed(1),
    totalMb: p.bytesTotal > 0 ? (p.bytesTotal / MB).toFixed(1) : '?',
    speed: (p.bytesPerSecond / MB).toFixed(1),
    etaText: p.etaSeconds === null ? '--' : formatSeconds(p.etaSeconds),
    state: status.state,
  };
}

/** Seconds as "1h02m03s", "2m05s" or "7s". */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(rest).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}
