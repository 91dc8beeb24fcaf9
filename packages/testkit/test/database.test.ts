import { describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createTestDatabase } from '../src/index.ts';

describe('createTestDatabase', () => {
  it('creates an isolated database that drop() removes', async () => {
    const db = await createTestDatabase();
    const sql = postgres(db.url, { max: 1 });
    const [row] = await sql`select current_database() as name`;
    expect(row?.name).toBe(db.name);
    await sql.end();
    await db.drop();
    const admin = postgres(process.env.DATABASE_URL!, { max: 1 });
    const rows = await admin`select 1 from pg_database where datname = ${db.name}`;
    expect(rows.length).toBe(0);
    await admin.end();
  });
});
