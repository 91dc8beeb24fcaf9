// The filesystem service's environment, parsed in one place.

/** What the filesystem service needs to run. */
export interface FilesystemServiceSettings {
  root: string;
  token: string;
  host: string;
  port: number;
  /** Largest request body (one file's content plus its JSON envelope). */
  bodyLimitBytes: number;
}

/** Parses FILESYSTEM_SERVICE_ROOT, WIKI_SERVICE_TOKEN, FILESYSTEM_SERVICE_HOST/PORT; throws naming what is wrong. */
export function loadFilesystemServiceSettings(env: NodeJS.ProcessEnv = process.env): FilesystemServiceSettings {
  const problems: string[] = [];
  const root = env.FILESYSTEM_SERVICE_ROOT ?? '';
  if (root === '') problems.push('FILESYSTEM_SERVICE_ROOT is required');
  const token = env.WIKI_SERVICE_TOKEN ?? '';
  if (token.length < 16) problems.push('WIKI_SERVICE_TOKEN must be at least 16 characters');
  const port = Number(env.FILESYSTEM_SERVICE_PORT ?? '6001');
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push('FILESYSTEM_SERVICE_PORT must be a port number');
  const bodyLimitBytes = Number(env.FILESYSTEM_SERVICE_BODY_LIMIT_BYTES ?? String(16 * 1024 * 1024));
  if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1024) problems.push('FILESYSTEM_SERVICE_BODY_LIMIT_BYTES must be an integer >= 1024');
  if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join('; ')}`);
  return { root, token, host: env.FILESYSTEM_SERVICE_HOST ?? '127.0.0.1', port, bodyLimitBytes };
}
