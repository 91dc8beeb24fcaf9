// The wiki saga's HTTP clients from configuration, or null when the fleet does not run the wiki saga.
import { createServiceClient, type ServiceClient } from '@ingest/wiki';
import type { IngestConfig } from './config.ts';

/** The filesystem and git service clients (all three wiki settings set), else null. */
export function wikiClientsFromConfig(config: IngestConfig): { filesystem: ServiceClient; git: ServiceClient } | null {
  if (!config.FILESYSTEM_SERVICE_URL || !config.GIT_SERVICE_URL || !config.WIKI_SERVICE_TOKEN) return null;
  const common = { token: config.WIKI_SERVICE_TOKEN, callTimeoutMs: config.WIKI_CALL_TIMEOUT_MS };
  return {
    filesystem: createServiceClient({ name: 'filesystem', baseUrl: config.FILESYSTEM_SERVICE_URL, ...common }),
    git: createServiceClient({ name: 'git', baseUrl: config.GIT_SERVICE_URL, ...common }),
  };
}
