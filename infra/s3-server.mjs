// Runs s3rver, the S3-compatible server from the npm registry that local runs and tests use.
// Flags: --address, --port, --directory. Stops cleanly on SIGTERM/SIGINT.
// services.sh starts it with --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
// which OpenSSL 3 refuses otherwise (every truncated V2 page would answer 500).
import { parseArgs } from 'node:util';
import S3rver from 's3rver';

const { values } = parseArgs({
  options: {
    address: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '19000' },
    directory: { type: 'string' },
  },
});
if (!values.directory) {
  console.error('s3-server: --directory is required');
  process.exit(2);
}
const server = new S3rver({
  address: values.address,
  port: Number(values.port),
  directory: values.directory,
  silent: true,
  // Any client credentials are accepted, as with a dev MinIO; signatures are still parsed.
  allowMismatchedSignatures: true,
});
const { address, port } = await server.run();
console.log(`s3rver listening on ${address}:${port}`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
