// A Debian tool a test needs (promtool, chromium), installed from the test path when missing, like the services.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../infra/observability/ensure-tool.sh');

/** Returns the path of `command`, installing Debian's `pkg` first when it is missing (apt-get, as root). */
export async function ensureDebianTool(command: string, pkg: string): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [SCRIPT, command, pkg], { timeout: 900_000 });
  return stdout.trim();
}
