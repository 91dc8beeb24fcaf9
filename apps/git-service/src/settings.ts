// The git service's environment, parsed in one place.

/** What the git service needs to run. */
export interface GitServiceSettings {
  /** The filesystem service's root: a project's files are FILES_ROOT/<project>. */
  filesRoot: string;
  /** Where the repositories live (one bare repository per project), outside the files. */
  reposRoot: string;
  token: string;
  host: string;
  port: number;
  /** Projects whose snapshots are refused (423 PROJECT_FROZEN), e.g. during a release freeze. */
  frozenProjects: ReadonlySet<string>;
}

/** Parses GIT_SERVICE_FILES_ROOT, GIT_SERVICE_REPOS_ROOT, WIKI_SERVICE_TOKEN, GIT_SERVICE_HOST/PORT, GIT_SERVICE_FROZEN_PROJECTS. */
export function loadGitServiceSettings(env: NodeJS.ProcessEnv = process.env): GitServiceSettings {
  const problems: string[] = [];
  const filesRoot = env.GIT_SERVICE_FILES_ROOT ?? env.FILESYSTEM_SERVICE_ROOT ?? '';
  if (filesRoot === '') problems.push('GIT_SERVICE_FILES_ROOT (or FILESYSTEM_SERVICE_ROOT) is required');
  const reposRoot = env.GIT_SERVICE_REPOS_ROOT ?? '';
  if (reposRoot === '') problems.push('GIT_SERVICE_REPOS_ROOT is required');
  const token = env.WIKI_SERVICE_TOKEN ?? '';
  if (token.length < 16) problems.push('WIKI_SERVICE_TOKEN must be at least 16 characters');
  const port = Number(env.GIT_SERVICE_PORT ?? '6003');
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push('GIT_SERVICE_PORT must be a port number');
  if (problems.length > 0) throw new Error(`invalid configuration: ${problems.join('; ')}`);
  const frozen = (env.GIT_SERVICE_FROZEN_PROJECTS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return { filesRoot, reposRoot, token, host: env.GIT_SERVICE_HOST ?? '127.0.0.1', port, frozenProjects: new Set(frozen) };
}
