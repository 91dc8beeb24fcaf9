// The chaos itself: until the deadline, one fault at a time at random moments: SIGKILL a worker, pause a service
// (SIGSTOP, a few seconds, SIGCONT), or stop a service and start it again through the script (at once, or after an
// outage of several seconds). (Sources are modified by the
// submitter, timed to the upload of the saga concerned.)
import { log } from './log.ts';
import type { Random } from './random.ts';
import { SERVICES, type ServiceName, type ServiceSet } from '@ingest/testkit';
import type { WorkerFleet } from './worker-fleet.ts';

/** How many faults of each kind were injected. */
export interface ChaosCounts {
  workerKills: number;
  pauses: Record<ServiceName, number>;
  restarts: Record<ServiceName, number>;
  failedActions: number;
  /** Stops (part of `restarts`) timed to hit a rollback. */
  outagesDuringRollback: number;
}

/** Collaborators of the loop. */
export interface ChaosLoopOptions {
  services: ServiceSet;
  fleet: WorkerFleet;
  random: Random;
  /** Epoch ms at which the loop stops injecting. */
  until: number;
  /** Ends the loop early (an interrupted soak). */
  shouldStop?: () => boolean;
  /** Whether some saga is compensating right now (for an outage aimed at a rollback). */
  rollingBack: () => Promise<boolean>;
}

type Action =
  | { kind: 'kill' }
  | { kind: 'pause'; service: ServiceName }
  | { kind: 'restart'; service: ServiceName }
  | { kind: 'outageDuringRollback'; service: ServiceName };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs until `until`; every pause it starts is resumed before it returns. */
export async function runChaosLoop(o: ChaosLoopOptions): Promise<ChaosCounts> {
  const counts: ChaosCounts = {
    workerKills: 0,
    pauses: { redis: 0, postgres: 0, s3: 0 },
    restarts: { redis: 0, postgres: 0, s3: 0 },
    failedActions: 0,
    outagesDuringRollback: 0,
  };
  const actions: (readonly [Action, number])[] = [
    [{ kind: 'kill' }, 3],
    ...SERVICES.map((service) => [{ kind: 'pause', service }, 1] as const),
    ...SERVICES.map((service) => [{ kind: 'restart', service }, 1.2] as const),
    // seeds/004 edge case 2 on purpose: a store goes away while a saga is rolling back.
    [{ kind: 'outageDuringRollback', service: 's3' }, 1],
    [{ kind: 'outageDuringRollback', service: 'postgres' }, 1],
  ];
  // Bounded by the deadline; each action is bounded by its own timeouts.
  const over = () => Date.now() >= o.until || o.shouldStop?.() === true;
  while (!over()) {
    await sleep(o.random.int(1000, 3500));
    if (over()) break;
    const action = o.random.weighted(actions);
    try {
      switch (action.kind) {
        case 'kill': {
          const victim = o.fleet.killOne();
          if (victim) {
            counts.workerKills += 1;
            log(`SIGKILL ${victim}`);
          }
          break;
        }
        case 'pause': {
          const ms = o.random.int(1500, 6000);
          log(`pause ${action.service} for ${ms} ms`);
          await o.services.pause(action.service);
          counts.pauses[action.service] += 1;
          await sleep(ms);
          await o.services.resume(action.service);
          break;
        }
        case 'outageDuringRollback': {
          const waitUntil = Date.now() + 8000;
          let found = false;
          // Bounded: looks for a compensating saga for at most 8 s.
          while (!found && Date.now() < waitUntil && !over()) {
            found = await o.rollingBack().catch(() => false);
            if (!found) await sleep(200);
          }
          if (!found) break;
          const down = o.random.int(4000, 9000);
          log(`outage of ${action.service} for ${down} ms while a saga rolls back`);
          await o.services.restart(action.service, down);
          counts.restarts[action.service] += 1;
          counts.outagesDuringRollback += 1;
          break;
        }
        case 'restart': {
          const down = o.random.chance(0.5) ? o.random.int(3000, 9000) : 0;
          log(`restart ${action.service}${down ? ` after ${down} ms down` : ''}`);
          await o.services.restart(action.service, down);
          counts.restarts[action.service] += 1;
          break;
        }
      }
    } catch (err) {
      counts.failedActions += 1;
      log(`chaos action ${JSON.stringify(action)} failed: ${err instanceof Error ? err.message : String(err)}`);
      for (const s of o.services.paused()) await o.services.resume(s).catch(() => undefined);
    }
  }
  return counts;
}
