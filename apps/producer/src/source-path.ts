// Turns the <file> argument into the path the API expects: relative to SOURCE_ROOT.
import path from 'node:path';
import { CliUsageError } from './cli-errors.ts';

/** Relative paths pass unchanged; an absolute path must lie inside `sourceRoot` and is made relative to it. */
export function toSourceRelative(file: string, sourceRoot: string): string {
  if (!path.isAbsolute(file)) return file;
  const relative = path.relative(path.resolve(sourceRoot), path.resolve(file));
  if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    throw new CliUsageError(`${file} is not inside SOURCE_ROOT (${sourceRoot})`);
  }
  return relative;
}
