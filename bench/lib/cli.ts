// Command-line options of the benchmarks: `--name value` flags with an environment fallback, so CI can set them without quoting.

/** An integer option read from `--flag N`, else from the environment, else the default; rejects nonsense early. */
export function intOption(argv: readonly string[], flag: string, envName: string, fallback: number, min = 1): number {
  const i = argv.indexOf(flag);
  const raw = i >= 0 ? argv[i + 1] : process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  // A typo such as `--sagas 3OO` must fail loudly rather than silently bench the default.
  if (!Number.isInteger(value) || value < min) throw new Error(`${flag} / ${envName} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

/** True when a bare `--flag` is present. */
export function hasFlag(argv: readonly string[], flag: string): boolean {
  return argv.includes(flag);
}

/** The value of an environment variable the local services export; says how to get it when it is missing. */
export function requireServiceEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run \`eval "$(bash infra/services.sh --env)"\` first`);
  return value;
}
