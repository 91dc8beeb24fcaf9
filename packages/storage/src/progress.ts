// Upload progress: what a listener is told after each chunk, and the arithmetic behind rate and ETA.
import type { Logger } from 'pino';

/** One progress report. `phase` is 'verifying' while a resumed upload re-hashes the prefix already stored. */
export interface UploadProgress {
  operationId: string;
  phase: 'verifying' | 'uploading';
  chunksDone: number;
  chunkCount: number;
  bytesDone: number;
  bytesTotal: number;
  /** 0..100. */
  percent: number;
  /** Bytes uploaded by this run per second (chunks already stored do not count). */
  bytesPerSecond: number;
  /** Estimated seconds to completion; undefined until a rate is known. */
  etaSeconds: number | undefined;
}

/** Receives progress reports; one that throws is logged and ignored, never breaking the upload. */
export type ProgressListener = (progress: UploadProgress) => void;

/** Tracks bytes and chunks done and emits reports. */
export interface ProgressTracker {
  /** Counts a chunk found already stored (verified, not uploaded). */
  skipped(bytes: number): void;
  /** Counts a chunk uploaded by this run. */
  uploaded(bytes: number): void;
  /** Emits a report for the given phase. */
  emit(phase: UploadProgress['phase']): void;
}

/** Creates a tracker for one upload run. */
export function createProgressTracker(args: {
  operationId: string;
  chunkCount: number;
  bytesTotal: number;
  listener: ProgressListener | undefined;
  logger: Logger | undefined;
  now?: () => number;
}): ProgressTracker {
  const now = args.now ?? Date.now;
  const startedAt = now();
  let chunksDone = 0;
  let bytesDone = 0;
  let bytesUploaded = 0;
  return {
    skipped(bytes) {
      chunksDone += 1;
      bytesDone += bytes;
    },
    uploaded(bytes) {
      chunksDone += 1;
      bytesDone += bytes;
      bytesUploaded += bytes;
    },
    emit(phase) {
      if (!args.listener) return;
      const seconds = (now() - startedAt) / 1000;
      const bytesPerSecond = seconds > 0 ? bytesUploaded / seconds : 0;
      const progress: UploadProgress = {
        operationId: args.operationId,
        phase,
        chunksDone,
        chunkCount: args.chunkCount,
        bytesDone,
        bytesTotal: args.bytesTotal,
        percent: args.bytesTotal === 0 ? 100 : (bytesDone / args.bytesTotal) * 100,
        bytesPerSecond,
        etaSeconds: bytesPerSecond > 0 ? (args.bytesTotal - bytesDone) / bytesPerSecond : undefined,
      };
      try {
        args.listener(progress);
      } catch (err) {
        args.logger?.warn({ err }, 'progress listener threw; ignored');
      }
    },
  };
}
