import { describe, expect, it } from 'vitest';
import { describeS3Request } from '../src/index.ts';
import { deleteRequestKeys, withDeleteErrors, withoutDeleteKeys } from '../src/s3-xml.ts';

describe('describeS3Request', () => {
  it.each([
    ['PUT', '/b/dir/file%20name%2B%C3%BC?x-id=PutObject', { bucket: 'b', key: 'dir/file name+ü', kind: 'put' }],
    ['PUT', '/b/k?partNumber=2&uploadId=u', { bucket: 'b', key: 'k', kind: 'uploadPart' }],
    ['GET', '/b/k', { bucket: 'b', key: 'k', kind: 'get' }],
    ['GET', '/b?list-type=2&prefix=a%2F', { bucket: 'b', key: '', kind: 'list' }],
    ['GET', '/b/k?uploadId=u', { bucket: 'b', key: 'k', kind: 'list' }],
    ['HEAD', '/b/k', { bucket: 'b', key: 'k', kind: 'head' }],
    ['DELETE', '/b/k', { bucket: 'b', key: 'k', kind: 'delete' }],
    ['DELETE', '/b/k?uploadId=u', { bucket: 'b', key: 'k', kind: 'abortMultipartUpload' }],
    ['POST', '/b?delete', { bucket: 'b', key: '', kind: 'deleteObjects' }],
    ['POST', '/b/k?uploads', { bucket: 'b', key: 'k', kind: 'createMultipartUpload' }],
    ['POST', '/b/k?uploadId=u', { bucket: 'b', key: 'k', kind: 'completeMultipartUpload' }],
    ['PUT', '/b', { bucket: 'b', key: '', kind: 'other' }],
    ['GET', '/', { bucket: '', key: '', kind: 'list' }],
  ] as const)('%s %s', (method, url, expected) => {
    expect(describeS3Request(method, url)).toEqual(expected);
  });
});

describe('DeleteObjects XML', () => {
  const request =
    '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    '<Object><Key>a &amp; b</Key></Object><Object><Key>&lt;c&gt;&#x0D;</Key></Object><Object><Key>d</Key></Object><Quiet>false</Quiet></Delete>';

  it('reads keys with XML entities decoded', () => {
    expect(deleteRequestKeys(request)).toEqual(['a & b', '<c>\r', 'd']);
  });

  it('drops refused objects and keeps the rest of the document', () => {
    const rewritten = withoutDeleteKeys(request, (k) => k !== 'd');
    expect(deleteRequestKeys(rewritten)).toEqual(['d']);
    expect(rewritten).toContain('<Quiet>false</Quiet>');
  });

  it('adds escaped AccessDenied errors to a DeleteResult', () => {
    const merged = withDeleteErrors('<DeleteResult><Deleted><Key>d</Key></Deleted></DeleteResult>', ['a & b']);
    expect(merged).toBe(
      '<DeleteResult><Deleted><Key>d</Key></Deleted><Error><Key>a &amp; b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>',
    );
    expect(() => withDeleteErrors('<Error/>', ['x'])).toThrow(/DeleteResult/);
  });
});
