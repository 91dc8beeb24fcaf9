// An HTTP reverse proxy in front of the S3 server that fails, stalls or slows chosen requests and refuses
// chosen deletes, so tests see S3 faults exactly as the SDK reports them, without patching our code.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeS3Request, type S3OperationKind } from './s3-request.ts';
import { deleteRequestKeys, deniedDeleteResult, s3ErrorXml, withDeleteErrors, withoutDeleteKeys } from './s3-xml.ts';
import { withBodyChecksums } from './body-checksums.ts';

/** Options for startS3FaultProxy. */
export interface S3FaultProxyOptions {
  /** The real S3 endpoint, e.g. http://127.0.0.1:19000. Only http is supported. */
  target: string;
  /** Loopback port to listen on. Default 0: any free port. */
  listenPort?: number;
  /** Most entries requests() keeps (oldest dropped first). Default 10 000. */
  maxLogEntries?: number;
}

/** Which keys a rule applies to: an exact key, a prefix, or a pattern. */
export type S3KeyMatcher = string | { prefix: string } | RegExp;

/** What the proxy does to a matching request. */
export type S3FaultAction =
  /** Answer at once with this status and an S3 `<Error>` body; the server never sees the request. */
  | { type: 'error'; status: number; code: string; message?: string }
  /** Hold the request unanswered until the rule is removed (then it is forwarded) or the proxy closes. */
  | { type: 'stall' }
  /** Forward the request after `ms`. */
  | { type: 'delay'; ms: number };

/** A fault and the requests it applies to; every given criterion must match. */
export interface S3FaultRule {
  /** HTTP method, any case. Default: any. */
  method?: string;
  /** Operation kind(s). Default: any. */
  kind?: S3OperationKind | readonly S3OperationKind[];
  /** Bucket name. Default: any. */
  bucket?: string;
  /** Object key; a DeleteObjects request matches when any of its keys does. Default: any. */
  key?: S3KeyMatcher;
  /** Apply to the first N matching requests only. Default: all. */
  times?: number;
  action: S3FaultAction;
}

/** A rule in force; remove() takes it out (and releases the requests it stalls). */
export interface S3FaultRuleHandle {
  remove(): void;
  /** Requests the rule has applied to so far. */
  matches(): number;
}

/** One request through the proxy, for assertions. */
export interface S3RequestRecord {
  method: string;
  kind: S3OperationKind;
  bucket: string;
  /** URL-decoded key; '' for bucket-level requests. */
  key: string;
  /** For DeleteObjects, the keys asked for. */
  keys?: string[];
  /** Status sent to the client; undefined while the request is in flight (or was abandoned). */
  status: number | undefined;
  /** The fault applied, if any. */
  fault?: 'error' | 'stall' | 'delay' | 'refusedDelete';
}

/** A running S3 fault proxy; point the S3 client's endpoint at `endpoint`. */
export interface S3FaultProxy {
  port: number;
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** Adds a rule; rules are tried in the order added and the first that applies wins. */
  failWhen(rule: S3FaultRule): S3FaultRuleHandle;
  /** Makes deletes of these keys fail with AccessDenied (single DELETE: 403; DeleteObjects: an `<Error>` entry each). */
  refuseDeletesFor(keys: Iterable<string> | ((key: string) => boolean)): { remove(): void };
  /** Removes every rule and delete refusal. */
  clearRules(): void;
  /** A copy of the request log, oldest first. */
  requests(): S3RequestRecord[];
  /** Stops listening, drops held and open requests. */
  close(): Promise<void>;
}

/** A 503 SlowDown answer, S3's throttling signal. */
export const S3_SLOW_DOWN: S3FaultAction = { type: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };

/** A 500 InternalError answer. */
export const S3_INTERNAL_ERROR: S3FaultAction = { type: 'error', status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' };

interface ActiveRule {
  rule: S3FaultRule;
  matches: number;
  removed: boolean;
  released: Promise<void>;
  release: () => void;
}

// DeleteObjects bodies list at most 1000 keys of at most 1 KiB each.
const MAX_DELETE_BODY = 4 * 1024 * 1024;
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'expect', 'upgrade', 'te', 'trailer'];

/** Starts the proxy on 127.0.0.1, forwarding to `target` with no rules. */
export async function startS3FaultProxy(options: S3FaultProxyOptions): Promise<S3FaultProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`startS3FaultProxy: only http targets, got ${options.target}`);
  const maxLogEntries = options.maxLogEntries ?? 10_000;
  const agent = new http.Agent({ keepAlive: true });
  let rules: ActiveRule[] = [];
  let refusals: ((key: string) => boolean)[] = [];
  const log: S3RequestRecord[] = [];
  let closed = false;
  let releaseAll = (): void => {};
  const closing = new Promise<void>((resolve) => (releaseAll = resolve));

  const refused = (key: string): boolean => refusals.some((r) => r(key));

  const takeRule = (record: S3RequestRecord): ActiveRule | undefined => {
    const found = rules.find((r) => !r.removed && (r.rule.times === undefined || r.matches < r.rule.times) && applies(r.rule, record));
    if (found) found.matches++;
    return found;
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = describeS3Request(method, req.url ?? '/');
    const record: S3RequestRecord = { method, ...target, status: undefined };
    log.push(record);
    if (log.length > maxLogEntries) log.shift();
    res.on('finish', () => (record.status = res.statusCode));
    let abandoned = false;
    res.on('close', () => (abandoned = !res.writableFinished));

    let body: Buffer | undefined;
    if (target.kind === 'deleteObjects') {
      body = await readBody(req, MAX_DELETE_BODY);
      record.keys = deleteRequestKeys(body.toString('utf8'));
    }

    const active = takeRule(record);
    if (active) {
      const { action } = active.rule;
      record.fault = action.type;
      if (action.type === 'error') {
        req.resume();
        return respondError(res, method, action.status, action.code, action.message ?? action.code, req.url ?? '/');
      }
      await Promise.race([action.type === 'stall' ? active.released : sleep(action.ms), closing]);
      if (closed || abandoned) {
        res.destroy();
        return;
      }
    }

    if (target.kind === 'delete' && refused(target.key)) {
      record.fault = 'refusedDelete';
      return respondError(res, method, 403, 'AccessDenied', 'Access Denied', req.url ?? '/');
    }
    const denied = record.keys?.filter(refused) ?? [];
    if (body && denied.length > 0) {
      record.fault = 'refusedDelete';
      if (denied.length === record.keys?.length) return respondXml(res, 200, deniedDeleteResult(denied));
      const rewritten = Buffer.from(withoutDeleteKeys(body.toString('utf8'), refused), 'utf8');
      return forward(req, res, rewritten, (xml) => withDeleteErrors(xml, denied));
    }
    return forward(req, res, body);
  }

  /** Sends the request on to the server, streaming both ways unless a body or response rewrite is given. */
  function forward(req: http.IncomingMessage, res: http.ServerResponse, body?: Buffer, rewrite?: (xml: string) => string): void {
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const upstream = http.request({
      host: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: req.url,
      headers: body ? withBodyChecksums(headers, body) : headers,
      agent,
    });
    upstream.on('response', (up) => {
      const upHeaders: http.OutgoingHttpHeaders = { ...up.headers };
      for (const h of HOP_BY_HOP) delete upHeaders[h];
      const status = up.statusCode ?? 502;
      if (rewrite && status === 200) {
        readBody(up, MAX_DELETE_BODY).then(
          (xml) => respondXml(res, status, rewrite(xml.toString('utf8'))),
          () => res.destroy(),
        );
        return;
      }
      res.writeHead(status, upHeaders);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else respondError(res, req.method ?? 'GET', 502, 'BadGateway', `s3 fault proxy: ${err.message}`, req.url ?? '/');
    });
    // A client that gives up must not leave the server's request hanging.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) res.destroy();
      else respondError(res, req.method ?? 'GET', 502, 'BadGateway', `s3 fault proxy: ${message}`, req.url ?? '/');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('startS3FaultProxy: no TCP address');
  const port = address.port;

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    failWhen(rule) {
      validateRule(rule);
      let release = (): void => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      const active: ActiveRule = { rule, matches: 0, removed: false, released, release };
      rules.push(active);
      return {
        remove() {
          active.removed = true;
          rules = rules.filter((r) => r !== active);
          active.release();
        },
        matches: () => active.matches,
      };
    },
    refuseDeletesFor(keys) {
      const set = typeof keys === 'function' ? undefined : new Set(keys);
      const predicate = typeof keys === 'function' ? keys : (key: string) => set?.has(key) === true;
      refusals.push(predicate);
      return {
        remove() {
          refusals = refusals.filter((r) => r !== predicate);
        },
      };
    },
    clearRules() {
      for (const r of rules) {
        r.removed = true;
        r.release();
      }
      rules = [];
      refusals = [];
    },
    requests: () => log.map((r) => ({ ...r, ...(r.keys ? { keys: [...r.keys] } : {}) })),
    async close() {
      if (closed) return;
      closed = true;
      releaseAll();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await stopped;
    },
  };
}

function validateRule(rule: S3FaultRule): void {
  const { action, times } = rule;
  if (times !== undefined && !(Number.isInteger(times) && times > 0)) throw new Error(`failWhen: times must be a positive integer, got ${times}`);
  if (action.type === 'error' && !(action.status >= 400 && action.status <= 599)) throw new Error(`failWhen: error status must be 4xx/5xx, got ${action.status}`);
  if (action.type === 'delay' && !(action.ms >= 0)) throw new Error(`failWhen: delay must be >= 0 ms, got ${action.ms}`);
}

function applies(rule: S3FaultRule, record: S3RequestRecord): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== record.method.toUpperCase()) return false;
  if (rule.bucket !== undefined && rule.bucket !== record.bucket) return false;
  if (rule.kind !== undefined) {
    const kinds: readonly S3OperationKind[] = typeof rule.kind === 'string' ? [rule.kind] : rule.kind;
    if (!kinds.includes(record.kind)) return false;
  }
  if (rule.key !== undefined) {
    const matcher = rule.key;
    const keys = record.keys ?? [record.key];
    if (!keys.some((k) => keyMatches(matcher, k))) return false;
  }
  return true;
}

function keyMatches(matcher: S3KeyMatcher, key: string): boolean {
  if (typeof matcher === 'string') return key === matcher;
  // search() ignores lastIndex, so a /g pattern cannot match on alternate calls.
  if (matcher instanceof RegExp) return key.search(matcher) !== -1;
  return key.startsWith(matcher.prefix);
}

function respondError(res: http.ServerResponse, method: string, status: number, code: string, message: string, resource: string): void {
  const xml = s3ErrorXml(code, message, resource);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml), 'x-amz-request-id': 's3-fault-proxy' });
  res.end(method.toUpperCase() === 'HEAD' ? undefined : xml);
}

function respondXml(res: http.ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

/** Reads a small body whole; larger than `limit` is an error rather than unbounded memory. */
async function readBody(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) throw new Error(`body larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}
