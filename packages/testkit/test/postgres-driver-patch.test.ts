// patches/postgres+3.4.9.patch (applied by `npm ci` through patch-package): postgres.js must reject a query written to
// a connection whose backend died, not throw from a setImmediate callback and take the process down (upstream
// porsager/postgres#1154, #1208). The reproduction runs in a child process, since unpatched it kills its process.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireEnv } from '../src/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const REPRODUCTION = `
import postgres from 'postgres';
const url = process.env.DATABASE_URL;
const sql = postgres(url, { max: 2, onnotice: () => {} });
const admin = postgres(url, { max: 1, onnotice: () => {} });
const reserved = await sql.reserve();
const [{ pid }] = await reserved\`select pg_backend_pid() as pid\`;
await admin\`select pg_terminate_backend(\${pid})\`;
await new Promise((r) => setTimeout(r, 200));
try { await reserved\`select 1\`; console.log('answered'); } catch (e) { console.log('rejected ' + e.code); }
const [{ v }] = await admin\`select 2 as v\`;
console.log('still running ' + v);
process.exit(0);
`;

describe('postgres.js with the project patch', () => {
  it('rejects a write on a connection whose backend was terminated instead of crashing the process', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--input-type=module', '-e', REPRODUCTION],
        { cwd: root, env: { ...process.env, DATABASE_URL: requireEnv('DATABASE_URL') }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(result.stderr).not.toMatch(/Cannot read properties of null/);
    expect(result.stdout).toContain('rejected CONNECTION_CLOSED');
    expect(result.stdout).toContain('still running 2');
    expect(result.code).toBe(0);
  });
});
