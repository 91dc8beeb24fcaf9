// Vitest global set-up: starts (or reuses) the local Redis, PostgreSQL and S3 server, and exports their settings.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export default function setup(): void {
  const out = execFileSync('bash', [path.join(root, 'infra/services.sh'), '--env'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for (const line of out.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && m[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
}
