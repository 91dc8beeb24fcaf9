// CPU time accounting for benchmarks on one machine: this process, the PostgreSQL backends of one database, and Redis.
// CPU per unit of work says whether a throughput is bound by CPU (a hard ceiling on a small machine) or by waiting.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';

// USER_HZ, the unit of /proc/<pid>/stat times: part of the Linux ABI, 100 on every mainstream architecture.
const USER_HZ = 100;

/** CPU milliseconds used so far by this Node process (all threads). */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU milliseconds used so far by another process (all threads), from /proc/<pid>/stat; NaN when it cannot be read. */
export function pidCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/** CPU milliseconds by pid of the backends connected to `dbName`; empty when /proc is not readable (not Linux). */
export async function backendCpuMs(admin: Sql, dbName: string): Promise<Map<number, number>> {
  const rows = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${dbName} and backend_type = 'client backend'`;
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (Number.isFinite(ticks)) out.set(pid, (ticks * 1000) / USER_HZ);
    } catch {
      // A backend that exited between the query and the read used no more CPU for us.
    }
  }
  return out;
}

/** CPU used by backends between two samples; a backend missing from `before` started in between and counts from zero. */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

/** CPU milliseconds used so far by the whole Redis server, other clients included. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 'NaN');
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

/** Busy and total CPU milliseconds of the whole machine so far (all cores), from /proc/stat; undefined off Linux. */
export function machineCpuMs(): { busyMs: number; totalMs: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user/nice).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
    const busy = user + nice + system + irq + softirq + steal;
    return { busyMs: (busy * 1000) / USER_HZ, totalMs: ((busy + idle + iowait) * 1000) / USER_HZ };
  } catch {
    return undefined;
  }
}
