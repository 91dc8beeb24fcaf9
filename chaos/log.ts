// The soak's progress lines, on stderr, so stdout carries only the report.

const started = Date.now();

/** Prints `[chaos +12.3s] message`. */
export function log(message: string): void {
  process.stderr.write(`[chaos +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}
