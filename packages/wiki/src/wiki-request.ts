// POST /v1/wiki-generations' body, checked before any saga exists: 400 naming the fields, 413 for too many files,
// 422 for a path that is unsafe or a files directory outside SOURCE_ROOT.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { WikiRequestError, type WikiFieldProblem } from './errors.ts';
import { isSafeProjectId, unsafePathReason } from './project-path.ts';
import type { WikiInput } from './wiki-input.ts';

/** Limits of one request. */
export interface WikiRequestLimits {
  /** Files given inline. Default 5000. */
  maxFiles?: number;
  /** SOURCE_ROOT, under which `filesDir` must lie. */
  sourceRoot: string;
}

/** Validates a request body and returns the saga's input; throws WikiRequestError. */
export async function parseWikiRequest(body: unknown, limits: WikiRequestLimits): Promise<WikiInput> {
  const maxFiles = limits.maxFiles ?? 5000;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new WikiRequestError('INVALID_REQUEST', 400, [{ field: '(body)', message: 'must be a JSON object' }]);
  const b = body as Record<string, unknown>;
  const problems: WikiFieldProblem[] = [];
  if (typeof b.projectId !== 'string' || b.projectId === '') problems.push({ field: 'projectId', message: 'is required (a string)' });
  else if (!isSafeProjectId(b.projectId)) problems.push({ field: 'projectId', message: 'must be 1-128 letters, digits, _ or - (starting with a letter or digit)' });
  if (typeof b.userId !== 'string' || b.userId === '' || b.userId.length > 256) problems.push({ field: 'userId', message: 'is required (a string of at most 256 characters)' });
  const hasFiles = b.files !== undefined;
  const hasDir = b.filesDir !== undefined;
  if (hasFiles === hasDir) problems.push({ field: 'files', message: 'give exactly one of files and filesDir' });
  if (hasFiles && (!Array.isArray(b.files) || b.files.length === 0)) problems.push({ field: 'files', message: 'must be a non-empty array of {path, content}' });
  if (hasDir && (typeof b.filesDir !== 'string' || b.filesDir === '')) problems.push({ field: 'filesDir', message: 'must be a path relative to SOURCE_ROOT' });
  const allowed = new Set(['projectId', 'userId', 'files', 'filesDir']);
  for (const k of Object.keys(b)) if (!allowed.has(k)) problems.push({ field: k, message: 'is not a known field' });
  if (problems.length > 0) throw new WikiRequestError('INVALID_REQUEST', 400, problems);
  const base = { projectId: b.projectId as string, userId: b.userId as string, requestedAt: new Date().toISOString() };

  if (hasFiles) {
    const files = b.files as unknown[];
    if (files.length > maxFiles) throw new WikiRequestError('TOO_MANY_FILES', 413, [{ field: 'files', message: `has ${files.length} entries, at most ${maxFiles} are accepted (give filesDir for more)` }]);
    const unsafe: WikiFieldProblem[] = [];
    const seen = new Set<string>();
    for (const [i, f] of files.entries()) {
      const e = f as { path?: unknown; content?: unknown } | null;
      if (e === null || typeof e !== 'object' || typeof e.path !== 'string' || typeof e.content !== 'string') {
        problems.push({ field: `files[${i}]`, message: 'must be {path: string, content: string}' });
        continue;
      }
      const reason = unsafePathReason(e.path);
      if (reason !== null) unsafe.push({ field: `files[${i}].path`, message: reason });
      else if (seen.has(e.path)) problems.push({ field: `files[${i}].path`, message: 'is given twice' });
      seen.add(e.path);
      if (problems.length + unsafe.length >= 20) break;
    }
    if (problems.length > 0) throw new WikiRequestError('INVALID_REQUEST', 400, problems);
    if (unsafe.length > 0) throw new WikiRequestError('UNSAFE_PATH', 422, unsafe);
    return { ...base, files: (files as { path: string; content: string }[]).map((f) => ({ path: f.path, content: f.content })) };
  }

  const requested = b.filesDir as string;
  if (path.isAbsolute(requested) || unsafePathReason(requested) !== null) throw new WikiRequestError('UNSAFE_PATH', 422, [{ field: 'filesDir', message: `must be a plain path relative to SOURCE_ROOT: ${unsafePathReason(requested) ?? 'is absolute'}` }]);
  const root = await realpath(limits.sourceRoot);
  let real: string;
  try {
    real = await realpath(path.join(root, requested));
  } catch {
    throw new WikiRequestError('UNSAFE_PATH', 422, [{ field: 'filesDir', message: 'does not exist under SOURCE_ROOT' }]);
  }
  if (!real.startsWith(root + path.sep)) throw new WikiRequestError('UNSAFE_PATH', 422, [{ field: 'filesDir', message: 'resolves outside SOURCE_ROOT' }]);
  if (!(await stat(real)).isDirectory()) throw new WikiRequestError('UNSAFE_PATH', 422, [{ field: 'filesDir', message: 'is not a directory' }]);
  return { ...base, filesDir: real };
}
