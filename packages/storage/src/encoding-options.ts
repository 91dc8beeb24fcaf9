// Encoding at rest as configured: adaptive compression settings, the encryption policy, and the key provider.
import { InvalidOptionError } from './errors.ts';
import type { CompressionSettings } from './chunk-codec.ts';
import type { KeyProvider } from './key-provider.ts';
import { intOption } from './options.ts';

/** When chunks are encrypted: every operation, only confidential and restricted ones, or never (those two still are). */
export const ENCRYPTION_POLICIES = ['always', 'confidential', 'never'] as const;
/** One of ENCRYPTION_POLICIES. */
export type EncryptionPolicy = (typeof ENCRYPTION_POLICIES)[number];

/** Security levels whose chunks are encrypted whatever the policy. */
const ALWAYS_ENCRYPTED: ReadonlySet<string> = new Set(['confidential', 'restricted']);

/** Encoding options of createUploader. */
export interface EncodingOptions {
  /** zstd level 1..19 for adaptive compression; 0 turns compression off. Default 0. */
  compressionLevel?: number;
  /** A chunk is stored compressed only when zstd saves at least this percentage (0..99). Default 10. */
  compressionMinSavingsPercent?: number;
  /** Which operations are encrypted (confidential and restricted always are). Default 'confidential'. */
  encryptAtRest?: EncryptionPolicy;
  /** Wraps and unwraps data keys; required to encrypt, and to read encrypted chunks back. Default: none. */
  keyProvider?: KeyProvider;
}

/** EncodingOptions validated. */
export interface ResolvedEncoding {
  compression: CompressionSettings | undefined;
  encryptAtRest: EncryptionPolicy;
  keyProvider: KeyProvider | undefined;
}

/** Validates encoding options; throws INVALID_OPTION naming the bad one. */
export function resolveEncoding(options: EncodingOptions = {}): ResolvedEncoding {
  const level = intOption('compressionLevel', options.compressionLevel, 0, 0, 19);
  const minSavingsPercent = intOption('compressionMinSavingsPercent', options.compressionMinSavingsPercent, 10, 0, 99);
  const encryptAtRest = options.encryptAtRest ?? 'confidential';
  if (!ENCRYPTION_POLICIES.includes(encryptAtRest)) throw new InvalidOptionError('encryptAtRest', `expected one of ${ENCRYPTION_POLICIES.join(', ')}, got ${String(encryptAtRest)}`);
  return { compression: level === 0 ? undefined : { level, minSavingsPercent }, encryptAtRest, keyProvider: options.keyProvider };
}

/** Whether an operation with this security level must be encrypted under the policy. */
export function mustEncrypt(policy: EncryptionPolicy, securityLevel: string | undefined): boolean {
  if (securityLevel !== undefined && ALWAYS_ENCRYPTED.has(securityLevel)) return true;
  return policy === 'always';
}
