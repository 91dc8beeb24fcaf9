// Where this process spends its CPU, by library: a sampling profile (node:inspector, no dependency) summed by source tree.
import { Session } from 'node:inspector/promises';

/** A named source tree (matched on a frame's URL) that gets its own line next to the npm packages. */
export interface SourceTree {
  name: string;
  urlIncludes: string;
}

/** The subset of a profile node the summary reads. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** The subset of a Profiler.stop answer the summary reads. */
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

const NODE_INTERNALS = 'Node internals';
const PROFILER = '(profiler)';

/**
 * Starts a sampling profile of the main thread; the returned function stops it and gives busy time in ms by library.
 * Time in V8 builtins and node: internals is charged to the nearest library frame that called them (JSON.stringify
 * called by an ORM is the ORM's cost); idle samples and the profiler's own work are dropped.
 */
export async function startProfile(trees: SourceTree[], intervalUs = 500): Promise<() => Promise<Map<string, number>>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    session.disconnect();
    return summarise(profile, trees);
  };
}

function summarise(profile: CpuProfile, trees: SourceTree[]): Map<string, number> {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  // null: transparent (builtins, node: internals, unknown files), charged to the caller.
  const own = (node: ProfileNode): string | null => {
    const { url, functionName } = node.callFrame;
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === '(program)') return 'native (outside JS)';
    // Stopping the profiler serialises the profile inside the sampled window; that is the profiler's cost, not the work's.
    if (url === 'node:inspector') return PROFILER;
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
    if (pkg) return pkg;
    return trees.find((t) => url.includes(t.urlIncludes))?.name ?? null;
  };
  const resolved = new Map<number, string>();
  const resolve = (id: number): string => {
    const hit = resolved.get(id);
    if (hit !== undefined) return hit;
    const node = byId.get(id);
    const up = parent.get(id);
    const name = (node && own(node)) ?? (up === undefined ? NODE_INTERNALS : resolve(up));
    resolved.set(id, name);
    return name;
  };
  const out = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => {
    if (byId.get(id)?.callFrame.functionName === '(idle)') return;
    const name = resolve(id);
    if (name === PROFILER) return;
    // timeDeltas[i] is the time since the previous sample: the best estimate of what sample i stands for.
    out.set(name, (out.get(name) ?? 0) + (deltas[i] ?? 0) / 1000);
  });
  return out;
}
