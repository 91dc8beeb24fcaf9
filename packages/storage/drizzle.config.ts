// drizzle-kit configuration: `npx drizzle-kit generate --config packages/storage/drizzle.config.ts` writes ./drizzle.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './packages/storage/src/schema/index.ts',
  out: './packages/storage/drizzle',
});
