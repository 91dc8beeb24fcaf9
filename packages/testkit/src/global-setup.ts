// Vitest global set-up: starts (or reuses) Redis, PostgreSQL and an S3 server, and exports their settings.
// With a Docker engine, testcontainers starts them; without one (these machines, CI), infra/services.sh does.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { dockerAvailable, startContainerServices } from './containers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (dockerAvailable()) {
    const services = await startContainerServices();
    Object.assign(process.env, services.env);
    return () => services.stop();
  }
  const out = execFileSync('bash', [path.join(root, 'infra/services.sh'), '--env'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for (const line of out.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && m[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
}
