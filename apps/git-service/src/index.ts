// @ingest/git-service: the wiki saga's snapshot store (git commits and tags) as an HTTP service.
export { buildGitService } from './git-service.ts';
export { loadGitServiceSettings, type GitServiceSettings } from './settings.ts';
