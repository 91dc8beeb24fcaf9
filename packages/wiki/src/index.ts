// @ingest/wiki: seeds/003's wiki-generation saga (save files, snapshot them) over two HTTP services, on the
// engine's public API; plus the services' shared contract pieces (token check, safe paths).
export { WIKI_SAGA, WIKI_STEPS, wikiSaga, saveKey, snapshotKey, type WikiSagaDeps, type WikiOutputs, type WikiResult, type SaveFilesOutput } from './wiki-saga.ts';
export type { WikiInput, InlineWikiFile } from './wiki-input.ts';
export { WIKI_STAGES } from './wiki-stages.ts';
export { wikiFiles, type WikiFile } from './wiki-files.ts';
export { createServiceClient, reasonOfStatus, type ServiceClient, type ServiceClientOptions, type CallOptions, type ServiceAnswer } from './service-client.ts';
export { wikiStoreRegistry, WIKI_STORES, type WikiStore } from './wiki-stores.ts';
export { INTERNAL_TOKEN_HEADER, createInternalTokenCheck } from './internal-token.ts';
export { isSafeProjectId, unsafePathReason } from './project-path.ts';
export { ServiceUnavailableError, WikiRequestError, type WikiFieldProblem } from './errors.ts';
export { parseWikiRequest, type WikiRequestLimits } from './wiki-request.ts';
