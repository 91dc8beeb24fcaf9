// Every table this package owns; drizzle-kit generates packages/storage/drizzle/ from these.
export * from './upload-operations.ts';
export * from './upload-chunks.ts';
export * from './documents.ts';
export * from './vector-chunks.ts';
export * from './graph.ts';
export * from './security.ts';
export * from './document-versions.ts';
