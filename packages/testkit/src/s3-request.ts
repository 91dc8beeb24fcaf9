// What a path-style S3 request addresses: the bucket, the key and the kind of operation, read from method and URL.

/**
 * The operation a request performs. Multipart steps have kinds of their own, so that a rule on `put`
 * (PutObject, CopyObject) does not also hit UploadPart. `list` covers ListBuckets, ListObjects(V2),
 * ListMultipartUploads and ListParts; `other` is everything else (CreateBucket, bucket sub-resources).
 */
export type S3OperationKind =
  | 'put'
  | 'get'
  | 'head'
  | 'delete'
  | 'deleteObjects'
  | 'list'
  | 'createMultipartUpload'
  | 'uploadPart'
  | 'completeMultipartUpload'
  | 'abortMultipartUpload'
  | 'other';

/** Bucket, key ('' for bucket-level requests) and kind of one request. */
export interface S3RequestTarget {
  bucket: string;
  key: string;
  kind: S3OperationKind;
}

/** Classifies a path-style request (`/<bucket>/<key>?<query>`); the key comes back URL-decoded. */
export function describeS3Request(method: string, rawUrl: string): S3RequestTarget {
  const url = new URL(rawUrl, 'http://s3.invalid');
  const path = url.pathname.replace(/^\//, '');
  const slash = path.indexOf('/');
  const bucket = decode(slash === -1 ? path : path.slice(0, slash));
  const key = slash === -1 ? '' : decode(path.slice(slash + 1));
  const q = url.searchParams;
  const m = method.toUpperCase();
  return { bucket, key, kind: bucket === '' ? 'list' : key === '' ? bucketKind(m, q) : objectKind(m, q) };
}

function bucketKind(method: string, q: URLSearchParams): S3OperationKind {
  if (method === 'POST' && q.has('delete')) return 'deleteObjects';
  if (method === 'GET') return 'list';
  if (method === 'HEAD') return 'head';
  return 'other';
}

function objectKind(method: string, q: URLSearchParams): S3OperationKind {
  const inUpload = q.has('uploadId');
  switch (method) {
    case 'PUT':
      return inUpload && q.has('partNumber') ? 'uploadPart' : 'put';
    case 'GET':
      return inUpload ? 'list' : 'get';
    case 'HEAD':
      return 'head';
    case 'DELETE':
      return inUpload ? 'abortMultipartUpload' : 'delete';
    case 'POST':
      if (q.has('uploads')) return 'createMultipartUpload';
      return inUpload ? 'completeMultipartUpload' : 'other';
    default:
      return 'other';
  }
}

// A malformed escape must not crash the proxy; the raw text still identifies the key well enough.
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
