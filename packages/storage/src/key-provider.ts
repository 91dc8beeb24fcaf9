// The key-encryption-key (KEK) contract of envelope encryption: wrap and unwrap a document's data key by key id.
// A KMS or Vault provider implements these three members over its own API (e.g. KMS Encrypt/Decrypt with the
// context as EncryptionContext); the chunk encoding never sees a KEK.

/** A data key as stored: which KEK wrapped it, and the wrapped bytes (base64). Not secret on its own. */
export interface WrappedKey {
  keyId: string;
  /** Base64 of the provider's wrapped form. */
  wrapped: string;
}

/** Bound into every wrap as additional data (a KMS EncryptionContext): a wrapped key moved to another operation does not unwrap. */
export interface KeyContext {
  operationId: string;
}

/** Wraps data keys under the active KEK and unwraps them under any KEK it still holds. */
export interface KeyProvider {
  /** The key id new data keys are wrapped under; undefined when the provider has no active key (encryption impossible). */
  activeKeyId(): string | undefined;
  /** Wraps a data key under the active KEK; KEY_UNAVAILABLE when there is none. */
  wrap(dataKey: Uint8Array, context: KeyContext): Promise<WrappedKey>;
  /** Unwraps; KEY_UNAVAILABLE for an unknown or retired key id, CHUNK_AUTH_FAILED when the wrapped bytes do not authenticate. */
  unwrap(wrapped: WrappedKey, context: KeyContext): Promise<Buffer>;
}
