// Builds the S3 client every chunk store uses; works with AWS S3, MinIO and s3rver.
import { S3Client } from '@aws-sdk/client-s3';
import { InvalidOptionError } from './errors.ts';
import { intOption, stringOption } from './options.ts';

/** Where the S3-compatible server is and how to talk to it. */
export interface S3Settings {
  /** Server URL, e.g. http://127.0.0.1:19000; omit for AWS S3's regional endpoint. */
  endpoint?: string;
  /** Region used for signing. Required (s3rver and MinIO accept any, e.g. us-east-1). */
  region: string;
  /** Access key; omit to use the SDK's default credential chain (instance role, env, profile). */
  accessKeyId?: string;
  /** Secret key; required when accessKeyId is given. */
  secretAccessKey?: string;
  /** Path-style URLs (http://host/bucket/key), needed by s3rver and most MinIO set-ups. Default false. */
  forcePathStyle?: boolean;
  /** Attempts per call made by the SDK itself before an error reaches the breaker (throttling, 5xx). Default 3. */
  maxAttempts?: number;
}

/** The S3 settings DESIGN §5 names, read from an environment; throws naming the first bad variable. */
export function readS3Settings(env: Record<string, string | undefined> = process.env): S3Settings & { bucket: string } {
  const bucket = env.S3_BUCKET;
  if (!bucket) throw new InvalidOptionError('S3_BUCKET', 'is not set');
  const region = env.S3_REGION;
  if (!region) throw new InvalidOptionError('S3_REGION', 'is not set');
  const pathStyle = env.S3_FORCE_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '' && !['true', 'false', '1', '0'].includes(pathStyle)) {
    throw new InvalidOptionError('S3_FORCE_PATH_STYLE', `expected true or false, got ${pathStyle}`);
  }
  const settings: S3Settings & { bucket: string } = { bucket, region, forcePathStyle: pathStyle === 'true' || pathStyle === '1' };
  if (env.S3_ENDPOINT) settings.endpoint = env.S3_ENDPOINT;
  if (env.S3_ACCESS_KEY_ID) settings.accessKeyId = env.S3_ACCESS_KEY_ID;
  if (env.S3_SECRET_ACCESS_KEY) settings.secretAccessKey = env.S3_SECRET_ACCESS_KEY;
  return settings;
}

/** Creates an S3Client from settings, validating them first. */
export function createS3Client(settings: S3Settings): S3Client {
  stringOption('region', settings.region);
  if (settings.endpoint !== undefined) {
    try {
      new URL(settings.endpoint);
    } catch {
      throw new InvalidOptionError('endpoint', `not a URL: ${settings.endpoint}`);
    }
  }
  if ((settings.accessKeyId === undefined) !== (settings.secretAccessKey === undefined)) {
    throw new InvalidOptionError('secretAccessKey', 'accessKeyId and secretAccessKey go together');
  }
  const maxAttempts = intOption('maxAttempts', settings.maxAttempts, 3, 1, 20);
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    forcePathStyle: settings.forcePathStyle ?? false,
    maxAttempts,
    ...(settings.accessKeyId === undefined || settings.secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }),
    // We send ContentMD5 and ChecksumSHA256 ourselves. The SDK's default (aws-chunked CRC32 trailers)
    // is not understood by every S3-compatible server (s3rver among them).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
