// The operator console at /ui: a static page and one script, bundled by esbuild from apps/producer/console when the
// producer starts (no separate build step, nothing fetched at run time). The page holds no data: every datum comes
// from the API, with the token the operator typed, in a header.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';

const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../console');

/** Content Security Policy of the console: its own script and style only, no inline code, never framed. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Bundles the console's TypeScript into one ES module (about 50 ms), with its page and stylesheet. */
async function bundleConsole(): Promise<{ html: string; js: string; css: string }> {
  const result = await build({
    entryPoints: [path.join(CONSOLE_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const js = result.outputFiles[0]?.text ?? '';
  const [html, css] = await Promise.all([readFile(path.join(CONSOLE_DIR, 'index.html'), 'utf8'), readFile(path.join(CONSOLE_DIR, 'console.css'), 'utf8')]);
  return { html, js, css };
}

/** Registers GET /ui, /ui/app.js and /ui/app.css (no token: they carry no data). */
export async function registerConsoleRoutes(app: FastifyInstance): Promise<void> {
  const assets = await bundleConsole();
  const publicRoute = { config: { public: true } };
  app.get('/ui', publicRoute, async (_request, reply) => reply.type('text/html; charset=utf-8').send(assets.html));
  app.get('/ui/', publicRoute, async (_request, reply) => reply.type('text/html; charset=utf-8').send(assets.html));
  app.get('/ui/app.js', publicRoute, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(assets.js));
  app.get('/ui/app.css', publicRoute, async (_request, reply) => reply.type('text/css; charset=utf-8').send(assets.css));
}
