// @ingest/wiki/testing: the two wiki services as real processes, for tests and the demo.
export { startWikiServices, type WikiServices, type ServiceProcess } from './wiki-services.ts';
