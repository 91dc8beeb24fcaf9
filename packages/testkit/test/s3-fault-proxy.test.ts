import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { randomId, requireEnv, S3_INTERNAL_ERROR, S3_SLOW_DOWN, startS3FaultProxy, waitFor, type S3FaultProxy } from '../src/index.ts';

const bucket = requireEnv('S3_BUCKET');

function s3Client(endpoint: string, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: requireEnv('S3_REGION'),
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}

/** Tracks whether a promise has settled, without waiting for it. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const promise = p.finally(() => (settled = true));
  promise.catch(() => {});
  return { promise, settled: () => settled };
}

describe('startS3FaultProxy in front of s3rver', () => {
  // Straight to the server: the ground truth the proxy's effects are checked against.
  const direct = s3Client(requireEnv('S3_ENDPOINT'));
  let proxy: S3FaultProxy;
  let viaProxy: S3Client;
  let noRetries: S3Client;
  let base: string;

  const exists = async (key: string): Promise<boolean> => {
    try {
      await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFound') return false;
      throw err;
    }
  };
  const putDirect = (key: string, body = 'x') => direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

  beforeEach(async () => {
    proxy = await startS3FaultProxy({ target: requireEnv('S3_ENDPOINT') });
    viaProxy = s3Client(proxy.endpoint);
    noRetries = s3Client(proxy.endpoint, { maxAttempts: 1 });
    base = `testkit/${randomId()}`;
  });

  afterEach(async () => {
    viaProxy.destroy();
    noRetries.destroy();
    await proxy.close();
    const listed = await direct.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${base}/` }));
    const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0) await direct.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  });

  afterAll(() => direct.destroy());

  it('forwards a put that lands on the server, and logs it', async () => {
    const key = `${base}/hello world+ü.txt`;
    await viaProxy.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'through the proxy' }));
    const got = await direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body?.transformToString()).toBe('through the proxy');
    expect(proxy.requests()).toEqual([{ method: 'PUT', kind: 'put', bucket, key, status: 200 }]);
  });

  it('fails only the first matching request with times: 1', async () => {
    const key = `${base}/throttled`;
    const rule = proxy.failWhen({ kind: 'put', key, times: 1, action: S3_SLOW_DOWN });
    await expect(noRetries.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'a' }))).rejects.toMatchObject({
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    expect(await exists(key)).toBe(false);
    await noRetries.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'b' }));
    expect(await exists(key)).toBe(true);
    expect(rule.matches()).toBe(1);
    expect(proxy.requests().map((r) => [r.status, r.fault])).toEqual([
      [503, 'error'],
      [200, undefined],
    ]);
  });

  it('matches rules on kind and on key by exact string, prefix or pattern', async () => {
    proxy.failWhen({ kind: 'put', key: { prefix: `${base}/a/` }, action: S3_INTERNAL_ERROR });
    proxy.failWhen({ kind: 'get', key: /\.tmp$/, action: { type: 'error', status: 404, code: 'NoSuchKey' } });
    await expect(noRetries.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}/a/x`, Body: '1' }))).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
    await noRetries.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}/b/x`, Body: '2' }));
    await noRetries.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}/c.tmp`, Body: '3' }));
    await expect(noRetries.send(new GetObjectCommand({ Bucket: bucket, Key: `${base}/c.tmp` }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    const head = await noRetries.send(new HeadObjectCommand({ Bucket: bucket, Key: `${base}/c.tmp` }));
    expect(head.ContentLength).toBe(1);
    expect(await exists(`${base}/a/x`)).toBe(false);
    expect(proxy.requests().map((r) => `${r.kind} ${r.status}`)).toEqual(['put 500', 'put 200', 'put 200', 'get 404', 'head 200']);
  });

  it('refuses chosen keys in DeleteObjects and single deletes, leaving them on the server', async () => {
    const keys = ['k1', 'k2 & <2>', 'k3', 'k4'].map((k) => `${base}/${k}`);
    for (const k of keys) await putDirect(k);
    const refusedKeys = [keys[1], keys[3]] as string[];
    proxy.refuseDeletesFor(refusedKeys);

    const out = await viaProxy.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );
    expect((out.Errors ?? []).map((e) => [e.Key, e.Code]).sort()).toEqual(refusedKeys.map((k) => [k, 'AccessDenied']).sort());
    expect((out.Deleted ?? []).map((d) => d.Key).sort()).toEqual([keys[0], keys[2]].sort());
    expect(await Promise.all(keys.map(exists))).toEqual([false, true, false, true]);

    // Every key refused: nothing to forward, the proxy answers alone.
    const allRefused = await viaProxy.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: refusedKeys.map((Key) => ({ Key })) } }),
    );
    expect((allRefused.Errors ?? []).map((e) => e.Key).sort()).toEqual([...refusedKeys].sort());
    expect(allRefused.Deleted ?? []).toEqual([]);

    await expect(viaProxy.send(new DeleteObjectCommand({ Bucket: bucket, Key: refusedKeys[0] }))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    expect(await Promise.all(refusedKeys.map(exists))).toEqual([true, true]);
    expect(proxy.requests().filter((r) => r.fault === 'refusedDelete').map((r) => r.kind)).toEqual(['deleteObjects', 'deleteObjects', 'delete']);

    proxy.clearRules();
    await viaProxy.send(new DeleteObjectCommand({ Bucket: bucket, Key: refusedKeys[0] }));
    expect(await exists(refusedKeys[0] as string)).toBe(false);
  });

  it('stalls a matching request until the rule is removed', async () => {
    const key = `${base}/stalled`;
    await putDirect(key, 'eventually');
    const rule = proxy.failWhen({ kind: 'get', key, action: { type: 'stall' } });
    const get = track(viaProxy.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    await waitFor(() => proxy.requests().some((r) => r.kind === 'get' && r.fault === 'stall'), { intervalMs: 10, what: 'the stalled GET' });
    // A later request completes while the stalled one is still held.
    await viaProxy.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(get.settled()).toBe(false);
    expect(proxy.requests().find((r) => r.kind === 'get')?.status).toBeUndefined();

    rule.remove();
    const got = await get.promise;
    expect(await got.Body?.transformToString()).toBe('eventually');
    expect(proxy.requests().find((r) => r.kind === 'get')?.status).toBe(200);
  });

  it('delays a matching request by delayMs', async () => {
    const key = `${base}/slow`;
    await putDirect(key);
    proxy.failWhen({ kind: 'head', times: 1, action: { type: 'delay', ms: 300 } });
    const started = Date.now();
    await viaProxy.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(295);
  });

  it('drops stalled requests when it closes', async () => {
    const key = `${base}/never`;
    proxy.failWhen({ kind: 'put', action: { type: 'stall' } });
    const put = track(noRetries.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'never stored' })));
    await waitFor(() => proxy.requests().some((r) => r.fault === 'stall'), { intervalMs: 10, what: 'the stalled PUT' });
    await proxy.close();
    await expect(put.promise).rejects.toBeInstanceOf(Error);
    expect(await exists(key)).toBe(false);
  });
});

describe('startS3FaultProxy options', () => {
  it('rejects a rule that cannot mean anything', async () => {
    const proxy = await startS3FaultProxy({ target: requireEnv('S3_ENDPOINT') });
    try {
      expect(() => proxy.failWhen({ times: 0, action: S3_SLOW_DOWN })).toThrow(/times/);
      expect(() => proxy.failWhen({ action: { type: 'error', status: 200, code: 'Ok' } })).toThrow(/status/);
    } finally {
      await proxy.close();
    }
  });
});
