// The console's API client: the token lives in sessionStorage (gone when the browser session ends) and travels only
// in the X-Internal-Token header, never in a URL.
/// <reference lib="dom" />

const KEY = 'ingest-console-token';

/** An API error with the server's code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The operator's token for this browser session. */
export const token = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string): void => sessionStorage.setItem(KEY, t),
  clear: (): void => sessionStorage.removeItem(KEY),
};

/** Calls the API; throws ApiError (401 clears the token so the login form comes back). */
export async function api<T>(path: string, init: { method?: 'GET' | 'POST' } = {}): Promise<T> {
  const t = token.get();
  const res = await fetch(path, { method: init.method ?? 'GET', headers: t ? { 'x-internal-token': t } : {}, cache: 'no-store' });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    if (res.status === 401) token.clear();
    throw new ApiError(res.status, body?.error?.code ?? 'HTTP_ERROR', body?.error?.message ?? `HTTP ${res.status}`);
  }
  return (await res.json()) as T;
}

/** Fetches a document's bytes with the token header and hands them to the browser as a download. */
export async function download(path: string, filename: string): Promise<void> {
  const t = token.get();
  const res = await fetch(path, { headers: t ? { 'x-internal-token': t } : {} });
  if (!res.ok) throw new ApiError(res.status, 'DOWNLOAD_FAILED', `download failed: HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
