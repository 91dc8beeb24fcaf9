// npm run git-service: the git service of the wiki saga, until SIGTERM.
import pino from 'pino';
import { buildGitService } from './git-service.ts';
import { loadGitServiceSettings } from './settings.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const settings = loadGitServiceSettings();
const app = await buildGitService(settings, logger);
const address = await app.listen({ host: settings.host, port: settings.port });
logger.info({ address, filesRoot: settings.filesRoot, reposRoot: settings.reposRoot }, 'git service listening');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
