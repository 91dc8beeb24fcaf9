// What a project id and a file path inside a project may look like: the one rule the producer, the saga and the
// filesystem service share, so an unsafe path is refused before a saga exists and again at the service.

const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const MAX_PATH_CHARS = 1024;

/** True for a project id the services accept (letters, digits, `_`, `-`; no dots, so no `..` or hidden names). */
export function isSafeProjectId(value: string): boolean {
  return PROJECT_ID.test(value);
}

/**
 * Why a relative file path is unsafe, or null when it is safe: not absolute, no `.`/`..`/empty segment, no
 * backslash or control character, no segment starting with a dot (keeps `.git` and service bookkeeping out).
 */
export function unsafePathReason(value: string): string | null {
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_PATH_CHARS) return `is longer than ${MAX_PATH_CHARS} characters`;
  if (value.startsWith('/')) return 'is absolute';
  if (value.includes('\\')) return 'contains a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'contains a control character';
  for (const segment of value.split('/')) {
    if (segment === '..') return 'contains ..';
    if (segment === '' || segment === '.') return 'has an empty or . segment';
    if (segment.startsWith('.')) return 'has a segment starting with a dot';
  }
  return null;
}
