// npm run filesystem-service: the filesystem service of the wiki saga, until SIGTERM.
import pino from 'pino';
import { buildFilesystemService } from './filesystem-service.ts';
import { loadFilesystemServiceSettings } from './settings.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const settings = loadFilesystemServiceSettings();
const { app } = await buildFilesystemService(settings, logger);
const address = await app.listen({ host: settings.host, port: settings.port });
logger.info({ address, root: settings.root }, 'filesystem service listening');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
