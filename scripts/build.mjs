// npm run build: each app bundled into one ES module with esbuild, run by plain node (node apps/worker/dist/main.js).
// Why a bundle: Node's ESM loader, given drizzle-orm's ~450 separate ES modules, grows the young generation to
// 134 MB of start-up garbage (a worker started at 286 MB RSS); the same code as one module starts at about 60 MB.
// Our packages and drizzle-orm are bundled; every other dependency stays an import of node_modules (production
// dependencies of the image). Each bundle carries the SQL migrations of saga-core and storage in dist/migrations/.
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APPS = {
  producer: ['main', 'cli'],
  worker: ['main'],
  janitor: ['main'],
  checker: ['main'],
  'storage-admin': ['recover-main', 'rotate-keys-main', 'migrate-main'],
  'filesystem-service': ['main'],
  'git-service': ['main'],
};
const BUNDLED = /^(@ingest\/|drizzle-orm(\/|$))/;

/** Leaves every bare import but ours and drizzle-orm to node_modules at run time. */
const externals = {
  name: 'externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (BUNDLED.test(args.path) ? undefined : { path: args.path, external: true }));
  },
};

for (const [app, entries] of Object.entries(APPS)) {
  const outdir = path.join(root, 'apps', app, 'dist');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: entries.map((e) => path.join(root, 'apps', app, 'src', `${e}.ts`)),
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: true,
    plugins: [externals],
    logLevel: 'warning',
    // A bundled CommonJS dependency may call require(); give the ES module one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  for (const pkg of ['saga-core', 'storage']) {
    cpSync(path.join(root, 'packages', pkg, 'drizzle'), path.join(outdir, 'migrations', pkg), { recursive: true });
  }
  process.stderr.write(`[build] apps/${app}/dist: ${entries.map((e) => `${e}.js`).join(', ')}\n`);
}
