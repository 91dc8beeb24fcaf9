// A KeyProvider over KEKs held in configuration (ENCRYPTION_KEYS=id1:base64,id2:base64; ENCRYPTION_ACTIVE_KEY_ID).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InvalidOptionError, StorageError } from './errors.ts';
import type { KeyContext, KeyProvider, WrappedKey } from './key-provider.ts';

/** Options of createLocalKeyProvider. */
export interface LocalKeyProviderOptions {
  /** KEKs by id, each 32 bytes. Retiring a key is removing it here (after `rotate-keys` re-wrapped its data keys). */
  keys: ReadonlyMap<string, Uint8Array>;
  /** Id of the KEK new data keys are wrapped under; must be in `keys`. Omitted: no encryption possible. */
  activeKeyId?: string;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const WRAP_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Parses `id1:base64key,id2:base64key`; throws INVALID_OPTION naming the bad entry by id only (never echoing key material). */
export function parseKeyList(list: string, option = 'ENCRYPTION_KEYS'): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const [i, entry] of list.split(',').map((e) => e.trim()).filter(Boolean).entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new InvalidOptionError(option, `entry ${i + 1} has no valid key id (letters, digits, . _ -) before ':'`);
    const material = entry.slice(colon + 1);
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(material) ? Buffer.from(material, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) throw new InvalidOptionError(option, `key ${id} must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    if (keys.has(id)) throw new InvalidOptionError(option, `key id ${id} appears twice`);
    keys.set(id, key);
  }
  return keys;
}

/** Creates the local provider; wrapping is AES-256-GCM under the KEK with key id and operation id as additional data. */
export function createLocalKeyProvider(options: LocalKeyProviderOptions): KeyProvider {
  const keys = new Map<string, Buffer>();
  for (const [id, key] of options.keys) {
    if (!KEY_ID.test(id)) throw new InvalidOptionError('keys', `invalid key id ${JSON.stringify(id)}`);
    if (key.byteLength !== 32) throw new InvalidOptionError('keys', `key ${id} must be 32 bytes`);
    keys.set(id, Buffer.from(key));
  }
  const active = options.activeKeyId;
  if (active !== undefined && !keys.has(active)) throw new InvalidOptionError('activeKeyId', `key ${active} is not among the configured keys`);
  const aad = (keyId: string, context: KeyContext): Buffer => Buffer.from(`ingest-data-key/v${WRAP_VERSION}\0${keyId}\0${context.operationId}`);
  const kek = (keyId: string, context: KeyContext): Buffer => {
    const key = keys.get(keyId);
    if (!key) {
      throw new StorageError('KEY_UNAVAILABLE', `key-encryption key ${keyId} is not configured (retired or never known); its data keys cannot be unwrapped`, {
        operationId: context.operationId,
      });
    }
    return key;
  };

  return {
    activeKeyId: () => active,

    async wrap(dataKey, context): Promise<WrappedKey> {
      if (active === undefined) throw new StorageError('KEY_UNAVAILABLE', 'no active key-encryption key is configured (ENCRYPTION_ACTIVE_KEY_ID)', { operationId: context.operationId });
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', kek(active, context), nonce);
      cipher.setAAD(aad(active, context));
      const body = Buffer.concat([Buffer.from([WRAP_VERSION]), nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
      return { keyId: active, wrapped: body.toString('base64') };
    },

    async unwrap(wrapped, context): Promise<Buffer> {
      const key = kek(wrapped.keyId, context);
      const body = Buffer.from(wrapped.wrapped, 'base64');
      const fail = (): StorageError =>
        new StorageError('CHUNK_AUTH_FAILED', `the data key wrapped under ${wrapped.keyId} does not authenticate (altered, or bound to another operation)`, {
          operationId: context.operationId,
        });
      if (body.length !== 1 + NONCE_BYTES + 32 + TAG_BYTES || body[0] !== WRAP_VERSION) throw fail();
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(1, 1 + NONCE_BYTES));
      decipher.setAAD(aad(wrapped.keyId, context));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(body.subarray(1 + NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw fail();
      }
    },
  };
}
