// A job that a paused consumer fetched anyway (BullMQ's blocking fetch, in flight when pause() ran, still moves the
// next job to active): it goes back to its wait list untouched, attempts not counted, for a ready process to take.
import { WaitingError, type Job } from 'bullmq';

/** Returns `job` to its wait list; the WaitingError tells BullMQ the job was moved, not failed. */
export async function handBack(job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new WaitingError();
}
