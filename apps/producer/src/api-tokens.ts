// The producer's callers: named tokens with scopes, parsed from INTERNAL_TOKENS (and INTERNAL_TOKEN, one token
// with every scope). Syntax: `name:secret[:scope+scope...]`, comma-separated; scopes submit, read, operate, or `*`.
// A name may appear twice with two secrets: that is a rotation (both accepted until the old one is removed).

/** What a token may do: submit documents, read sagas/documents/metrics, operate (cancel, retries, console actions). */
export type Scope = 'submit' | 'read' | 'operate';

/** Every scope, in the order documentation lists them. */
export const SCOPES: readonly Scope[] = ['submit', 'read', 'operate'];

/** One configured caller. The secret never leaves this process: logs and metrics carry `name` only. */
export interface ApiToken {
  name: string;
  secret: string;
  scopes: ReadonlySet<Scope>;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MIN_SECRET = 16;

/** Parses INTERNAL_TOKEN and INTERNAL_TOKENS; returns the tokens, or the problems (naming entries by position, never by secret). */
export function parseApiTokens(internalToken: string | undefined, internalTokens: string | undefined): { tokens: ApiToken[]; problems: string[] } {
  const tokens: ApiToken[] = [];
  const problems: string[] = [];
  if (internalToken !== undefined) tokens.push({ name: 'internal', secret: internalToken, scopes: new Set(SCOPES) });
  const entries = (internalTokens ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  entries.forEach((entry, i) => {
    const where = `INTERNAL_TOKENS entry ${i + 1}`;
    const [name = '', secret = '', scopeList, ...rest] = entry.split(':');
    if (rest.length > 0) return void problems.push(`${where}: expected name:secret[:scopes], found ${rest.length + 3} ':'-separated parts`);
    if (!NAME.test(name)) return void problems.push(`${where}: the name must be 1-64 letters, digits, '.', '_' or '-'`);
    if (secret.length < MIN_SECRET) return void problems.push(`${where} (${name}): the secret must be at least ${MIN_SECRET} characters`);
    const scopes = parseScopes(scopeList);
    if (typeof scopes === 'string') return void problems.push(`${where} (${name}): ${scopes}`);
    tokens.push({ name, secret, scopes });
  });
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t.secret)) problems.push(`token "${t.name}": the same secret is configured twice`);
    seen.add(t.secret);
  }
  return { tokens, problems };
}

function parseScopes(list: string | undefined): Set<Scope> | string {
  if (list === undefined || list === '*') return new Set(SCOPES);
  const scopes = new Set<Scope>();
  for (const s of list.split('+')) {
    if (!(SCOPES as readonly string[]).includes(s)) return `unknown scope "${s}" (scopes: ${SCOPES.join(', ')}, or *)`;
    scopes.add(s as Scope);
  }
  return scopes;
}
