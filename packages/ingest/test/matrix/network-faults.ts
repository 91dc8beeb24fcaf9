// Network faults timed to a chunk: hold chunk i's PUT at the S3 fault proxy, then take the network to S3 down
// with it in flight, so the upload attempt fails exactly there.
import { waitFor } from '@ingest/testkit';
import type { IngestRuntime } from '../../src/index.ts';
import { until } from './outcome.ts';
import { chunkAt, type MatrixWorld } from './world.ts';

/**
 * Fails upload attempt number `attempt` of the saga at chunk `index` and returns once the engine recorded the
 * failure (state upload_failed). The network stays down: the caller decides when it comes back (w.s3Net.accept()).
 */
export async function failUploadAttemptAt(w: MatrixWorld, rt: IngestRuntime, sagaId: string, index: number, attempt: number): Promise<void> {
  const hold = w.s3.failWhen({ kind: 'put', key: chunkAt(index), times: 1, action: { type: 'stall' } });
  await waitFor(() => hold.matches() === 1, { what: `chunk ${index} to be on its way (attempt ${attempt})` });
  w.s3Net.refuse();
  hold.remove();
  await until(rt, sagaId, `upload attempt ${attempt} to fail`, (s) => {
    const upload = s.steps.find((x) => x.name === 'chunked_upload');
    return (s.state === 'upload_failed' && upload?.attempts === attempt) || s.status !== 'running';
  });
}
