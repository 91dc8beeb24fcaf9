// WORKER_QUEUES: comma-separated names, blanks ignored, nothing meaning every queue.
import { describe, expect, it } from 'vitest';
import { workerRunOptions } from '../src/worker-options.ts';

describe('workerRunOptions', () => {
  it('consumes every queue when WORKER_QUEUES is unset or blank', () => {
    expect(workerRunOptions({ WORKER_CONCURRENCY: 3, WORKER_QUEUES: undefined })).toEqual({ concurrency: 3 });
    expect(workerRunOptions({ WORKER_CONCURRENCY: 3, WORKER_QUEUES: ' , ' })).toEqual({ concurrency: 3 });
  });

  it('splits on commas, trims and drops duplicates', () => {
    expect(workerRunOptions({ WORKER_CONCURRENCY: 1, WORKER_QUEUES: 'a, b,,a ' })).toEqual({ concurrency: 1, queues: ['a', 'b'] });
  });
});
