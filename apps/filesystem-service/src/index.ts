// @ingest/filesystem-service: the wiki saga's file store as an HTTP service.
export { buildFilesystemService } from './filesystem-service.ts';
export { loadFilesystemServiceSettings, type FilesystemServiceSettings } from './settings.ts';
