// patches/postgres+3.4.9.patch (applied by `npm ci` through patch-package): postgres.js must settle the queries of a
// connection whose backend died and go on, never take the process down: not by throwing from a setImmediate callback
// (upstream porsager/postgres#1154, #1208), nor by an unhandled rejection of its array-types fetch on a new connection
// (#1192, #1223). The reproductions run in child processes, since unpatched each kills its process.
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

// A proxy in front of PostgreSQL answers the driver's first array-types query the way a backend terminated at that
// moment does (a FATAL 57P01 ErrorResponse, then the socket closes), and forwards everything else, so the termination
// lands exactly during the fetch every time.
const TYPES_FETCH_TERMINATED = `
import net from 'node:net';
import postgres from 'postgres';
const target = new URL(process.env.DATABASE_URL);
const field = (t, v) => Buffer.concat([Buffer.from(t), Buffer.from(v + '\\0')]);
const body = Buffer.concat([field('S', 'FATAL'), field('V', 'FATAL'), field('C', '57P01'), field('M', 'terminating connection due to administrator command'), Buffer.from([0])]);
const len = Buffer.alloc(4);
len.writeInt32BE(body.length + 4);
const terminated = Buffer.concat([Buffer.from('E'), len, body]);
let struck = false;
const proxy = net.createServer((client) => {
  const server = net.connect(Number(target.port), target.hostname);
  server.pipe(client);
  client.on('error', () => {});
  server.on('error', () => {});
  client.on('data', (chunk) => {
    if (!struck && chunk.includes('typarray')) {
      struck = true;
      client.end(terminated);
      server.destroy();
      return;
    }
    server.write(chunk);
  });
  client.on('close', () => server.destroy());
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const url = new URL(target);
url.hostname = '127.0.0.1';
url.port = String(proxy.address().port);
const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
const first = await sql\`select 1 as v\`.then(() => 'answered', (e) => 'rejected ' + e.code);
console.log('struck ' + struck + ', first query ' + first);
await new Promise((r) => setTimeout(r, 200));
const [{ v }] = await sql\`select 2 as v\`;
console.log('still running ' + v);
process.exit(0);
`;

/** Runs a reproduction in a child process against the test database. */
function runChild(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: root, env: { ...process.env, DATABASE_URL: requireEnv('DATABASE_URL') }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('postgres.js with the project patch', () => {
  it('rejects a write on a connection whose backend was terminated instead of crashing the process', async () => {
    const result = await runChild(REPRODUCTION);
    expect(result.stderr).not.toMatch(/Cannot read properties of null/);
    expect(result.stdout).toContain('rejected CONNECTION_CLOSED');
    expect(result.stdout).toContain('still running 2');
    expect(result.code).toBe(0);
  });

  it('survives a backend terminated while a new connection fetches array types', async () => {
    const result = await runChild(TYPES_FETCH_TERMINATED);
    expect(result.stderr).not.toMatch(/57P01|terminating connection/);
    expect(result.stdout).toContain('struck true');
    expect(result.stdout).toContain('still running 2');
    expect(result.code).toBe(0);
  });
});
