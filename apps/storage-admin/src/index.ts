// @ingest/storage-admin: operator commands over the bucket and the data keys (`npm run recover`, `npm run rotate-keys`).
export { runRecover, RECOVER_EXIT } from './recover.ts';
export { runRotateKeys, ROTATE_EXIT } from './rotate-keys.ts';
