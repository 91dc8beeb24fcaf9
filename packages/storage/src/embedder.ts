// The embedder contract: texts in, one vector per text out. Implementations: createLocalEmbedder, createHttpEmbedder.

/** Per-call options of an embedder. */
export interface EmbedOptions {
  signal?: AbortSignal;
}

/** Turns texts into vectors; the vector store calls it once per batch of text chunks. */
export interface Embedder {
  /** Names the model; stored with every vector so that vectors of different models are never compared. */
  readonly model: string;
  /** Length of every vector, when known before the first call. */
  readonly dimensions: number | undefined;
  /** One vector per text, in the order given. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
}
