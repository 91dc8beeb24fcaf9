// The producer's command-line client: `enqueue <file>` (optionally waiting with a progress bar), `replace <documentId>
// <file>`, `delete <documentId>`, `documents` (a list), `wiki <projectId> <filesDir>` (a wiki generation) and
// `status <sagaId>`.
// Exit codes: 0 success; 1 a waited-for saga did not complete; 2 usage, configuration or HTTP errors.
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { CliError, CliUsageError, ProducerHttpError } from './cli-errors.ts';
import type { IngestionStatus } from '@ingest/ingest';
import { loadCliSettings, type CliSettings } from './cli-settings.ts';
import { formatFinalResult } from './final-result.ts';
import { createProducerClient, type EnqueueBody, type ProducerClient } from './producer-client.ts';
import { startSagaProgressBar } from './progress-bar.ts';
import { watchSaga } from './saga-watch.ts';
import { toSourceRelative } from './source-path.ts';

const EXIT_USAGE = 2;

interface EnqueueOptions {
  title?: string;
  category?: string;
  securityLevel?: string;
  textPath?: string;
  idempotencyKey?: string;
  wait?: boolean;
}

/** Parses `argv` and runs the command; resolves with the process exit code. */
async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let exitCode = 0;
  // Settings are read only once a command runs, so `--help` works without any environment.
  const connect = (): { settings: CliSettings; api: ProducerClient } => {
    const settings = loadCliSettings(env);
    return { settings, api: createProducerClient({ baseUrl: settings.producerUrl, internalToken: settings.internalToken }) };
  };
  const program = new Command('ingest')
    .description('Start document ingestions on the producer and follow them')
    .exitOverride()
    .showHelpAfterError();

  // What enqueue and replace share: a document's metadata options, and submitting it (with a progress bar on --wait).
  const documentCommand = (name: string, description: string): Command =>
    program
      .command(name)
      .description(description)
      .option('--title <title>', 'document title (default: the file name)')
      .option('--category <category>', 'document category')
      .addOption(new Option('--security-level <level>', 'security level').choices(['public', 'internal', 'confidential', 'restricted']))
      .option('--text-path <path>', 'extracted text of the document, relative to SOURCE_ROOT')
      .option('--wait', 'show progress until the saga ends; exit 0 only if it completed');
  const submit = async (api: ProducerClient, body: EnqueueBody, options: EnqueueOptions): Promise<void> => {
    const started = Date.now();
    const accepted = await api.enqueue(body, options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey });
    process.stdout.write(`${JSON.stringify(accepted)}\n`);
    if (options.wait) exitCode = await waitWithProgress(api, accepted.sagaId, started);
  };

  documentCommand('enqueue', 'start ingesting <file> (relative to SOURCE_ROOT, or an absolute path inside it)')
    .argument('<file>', 'source file')
    .option('--idempotency-key <key>', 'same key → same saga')
    .action(async (file: string, options: EnqueueOptions) => {
      const { settings, api } = connect();
      await submit(api, documentBody(file, options, settings.sourceRoot), options);
    });

  documentCommand('replace', 'ingest <file> as the new version of <documentId>; the old version stays current until the new one commits')
    .argument('<documentId>', 'the document to replace')
    .argument('<file>', 'source file of the new version')
    .action(async (documentId: string, file: string, options: EnqueueOptions) => {
      const { settings, api } = connect();
      await submit(api, { ...documentBody(file, options, settings.sourceRoot), replaces: documentId }, options);
    });

  program
    .command('delete')
    .description('delete <documentId> from every store and the bucket (a second delete answers the running saga)')
    .argument('<documentId>', 'the document to delete')
    .option('--wait', 'wait until the deletion ends; exit 0 only if it completed (leftovers recorded for the janitor exit 1)')
    .action(async (documentId: string, options: { wait?: boolean }) => {
      const { api } = connect();
      const accepted = await api.deleteDocument(documentId);
      process.stdout.write(`${JSON.stringify(accepted)}\n`);
      if (!options.wait) return;
      const final = await watchSaga(() => api.status(accepted.sagaId), { intervalMs: 500 });
      process.stdout.write(`${JSON.stringify({ sagaId: final.sagaId, status: final.status, state: final.state, compensationErrors: final.compensationErrors })}\n`);
      exitCode = final.status === 'completed' ? 0 : 1;
    });

  program
    .command('documents')
    .description('list documents, newest first, one JSON line each')
    .option('--category <category>', 'only this category')
    .addOption(new Option('--security-level <level>', 'only this security level').choices(['public', 'internal', 'confidential', 'restricted']))
    .option('--status <statuses>', 'comma-separated: active, deleting, deleted (default active,deleting)')
    .option('--created-after <iso>', 'created at or after this instant')
    .option('--created-before <iso>', 'created before this instant')
    .option('--limit <n>', 'page size (1-500)', '50')
    .option('--all', 'follow every page instead of printing one')
    .action(async (options: { category?: string; securityLevel?: string; status?: string; createdAfter?: string; createdBefore?: string; limit: string; all?: boolean }) => {
      const { api } = connect();
      const query: Record<string, string> = { limit: options.limit };
      if (options.category !== undefined) query.category = options.category;
      if (options.securityLevel !== undefined) query.securityLevel = options.securityLevel;
      if (options.status !== undefined) query.status = options.status;
      if (options.createdAfter !== undefined) query.createdAfter = options.createdAfter;
      if (options.createdBefore !== undefined) query.createdBefore = options.createdBefore;
      // Page by page: a listing of millions never sits in memory.
      for (;;) {
        const page = await api.listDocuments(query);
        for (const d of page.documents) process.stdout.write(`${JSON.stringify(d)}\n`);
        if (!options.all || page.nextCursor === null) {
          if (page.nextCursor !== null) process.stderr.write(`more: --all, or the API with cursor=${page.nextCursor}\n`);
          return;
        }
        query.cursor = page.nextCursor;
      }
    });

  program
    .command('wiki')
    .description('start a wiki generation: save the files of <filesDir> (under SOURCE_ROOT) to project <projectId> and snapshot them')
    .argument('<projectId>', 'the project the files belong to')
    .argument('<filesDir>', 'directory of generated files, relative to SOURCE_ROOT or an absolute path inside it')
    .requiredOption('--user <userId>', 'who asked for the generation')
    .option('--idempotency-key <key>', 'same key → same saga')
    .option('--wait', 'wait until the saga ends and print its outcome; exit 0 only if it completed')
    .action(async (projectId: string, filesDir: string, options: { user: string; idempotencyKey?: string; wait?: boolean }) => {
      const { settings, api } = connect();
      const body = { projectId, userId: options.user, filesDir: toSourceRelative(filesDir, settings.sourceRoot) };
      const accepted = await api.generateWiki(body, options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey });
      process.stdout.write(`${JSON.stringify(accepted)}\n`);
      if (!options.wait) return;
      const final = await watchSaga(() => api.status(accepted.sagaId), { intervalMs: 500 });
      // seeds/003's shapes: the result on success; the error and the saga's status with its steps otherwise.
      const outcome =
        final.status === 'completed'
          ? final.result
          : { status: 'failed', error: final.failure ? `${final.failure.reason}: ${final.failure.message}` : final.errors[0], saga_status: { saga_id: final.sagaId, state: final.state, steps: final.steps.map((s) => `${s.name}: ${s.status}`) } };
      process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
      exitCode = final.status === 'completed' ? 0 : 1;
    });

  program
    .command('status')
    .description('print the status of a saga as JSON')
    .argument('<sagaId>', 'the id enqueue printed')
    .action(async (sagaId: string) => {
      const status = await connect().api.status(sagaId);
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    return reportError(err);
  }
}

/** The body of an ingestion (or a replacement's new version) from the command line. */
function documentBody(file: string, options: EnqueueOptions, sourceRoot: string): EnqueueBody {
  return {
    filePath: toSourceRelative(file, sourceRoot),
    metadata: {
      title: options.title ?? path.basename(file),
      ...(options.category === undefined ? {} : { category: options.category }),
      ...(options.securityLevel === undefined ? {} : { securityLevel: options.securityLevel }),
    },
    ...(options.textPath === undefined ? {} : { textPath: toSourceRelative(options.textPath, sourceRoot) }),
  };
}

/** Shows a progress bar until the saga ends, prints its result, and returns the exit code (0 only if it completed). */
async function waitWithProgress(api: ProducerClient, sagaId: string, started: number): Promise<number> {
  const bar = startSagaProgressBar();
  let final: IngestionStatus;
  try {
    final = await watchSaga(() => api.status(sagaId), { intervalMs: 500, onStatus: (s) => bar.update(s) });
  } finally {
    bar.stop();
  }
  process.stdout.write(`${formatFinalResult(final, Date.now() - started).join('\n')}\n`);
  return final.status === 'completed' ? 0 : 1;
}

/** Prints what went wrong in words the user can act on, and returns the exit code. */
function reportError(err: unknown): number {
  // Commander has already printed its own message (unknown option, missing argument) or the help.
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (err instanceof ProducerHttpError) {
    const lines = [`error: ${err.code} (HTTP ${err.status}): ${err.message}`];
    for (const f of err.fields) lines.push(`  ${f.field}: ${f.message}`);
    if (err.holderSagaId !== undefined) lines.push(`  held by saga ${err.holderSagaId}`);
    process.stderr.write(`${lines.join('\n')}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof CliUsageError || err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_USAGE;
}

process.exitCode = await runCli(process.argv.slice(2));
