// Where a Docker engine is available, the same three services from testcontainers instead of infra/services.sh.
// Both paths end in the same settings (REDIS_URL, DATABASE_URL, S3_*), so no test knows which one ran.
import { execFileSync } from 'node:child_process';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';

/**
 * True when TEST_SERVICES=docker and a Docker engine answers (the client alone is not enough). Opt-in, because a few
 * tests reach into s3rver's own files (delete refusals via chattr) and only the native path runs s3rver.
 */
export function dockerAvailable(): boolean {
  if (process.env.TEST_SERVICES !== 'docker') return false;
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Started containers and the settings that point at them. */
export interface ContainerServices {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts Redis (AOF on), PostgreSQL and MinIO (bucket `ingest`) as containers. */
export async function startContainerServices(): Promise<ContainerServices> {
  const started: StartedTestContainer[] = [];
  const redis = await new GenericContainer('redis:7-alpine').withCommand(['redis-server', '--appendonly', 'yes']).withExposedPorts(6379).start();
  started.push(redis);
  const pg = await new GenericContainer('postgres:15-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'ingest' })
    .withCommand(['postgres', '-c', 'max_connections=400', '-c', 'fsync=off'])
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  started.push(pg);
  const minio = await new GenericContainer('minio/minio:latest')
    .withEnvironment({ MINIO_ROOT_USER: 'minioadmin', MINIO_ROOT_PASSWORD: 'minioadmin' })
    .withEntrypoint(['sh', '-c'])
    .withCommand(['mkdir -p /data/ingest && minio server /data'])
    .withExposedPorts(9000)
    .withWaitStrategy(Wait.forHttp('/minio/health/ready', 9000))
    .start();
  started.push(minio);
  return {
    env: {
      REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      DATABASE_URL: `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/ingest`,
      S3_ENDPOINT: `http://${minio.getHost()}:${minio.getMappedPort(9000)}`,
      S3_REGION: 'us-east-1',
      S3_BUCKET: 'ingest',
      S3_ACCESS_KEY_ID: 'minioadmin',
      S3_SECRET_ACCESS_KEY: 'minioadmin',
      S3_FORCE_PATH_STYLE: 'true',
    },
    async stop() {
      await Promise.all(started.map((c) => c.stop()));
    },
  };
}
