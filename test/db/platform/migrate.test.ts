import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { migrate, readMigrations } from '../../../src/platform/db/migrate.ts';
import { createTestDatabase } from '../../helpers/database.ts';

test('migrations apply on an empty database, are recorded as Prisma does, and a second run is a no-op', async () => {
  const database = await createTestDatabase({ migrated: false });
  const client = new pg.Client({ connectionString: database.url });
  try {
    const files = await readMigrations();
    assert.ok(files.length >= 1);
    const first = await migrate(database.url);
    assert.deepEqual(
      first,
      files.map((f) => f.name),
    );
    const second = await migrate(database.url);
    assert.deepEqual(second, []);

    await client.connect();
    const { rows } = await client.query(
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
    );
    assert.equal(rows.length, files.length);
    for (const [i, row] of rows.entries()) {
      assert.equal(row.migration_name, files[i]!.name);
      assert.equal(row.checksum, files[i]!.checksum);
      assert.ok(row.finished_at instanceof Date);
      assert.equal(row.applied_steps_count, 1);
    }
    const tables = await client.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    const names = tables.rows.map((r) => r.table_name);
    for (const t of [
      'users',
      'api_keys',
      'messages',
      'ratings',
      'corrections',
      'implicit_events',
      'model_versions',
    ]) {
      assert.ok(names.includes(t), `table ${t} exists`);
    }
  } finally {
    await client.end().catch(() => {});
    await database.drop();
  }
});

test('a migration changed after it was applied stops the runner', async () => {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  try {
    await client.connect();
    await client.query(`UPDATE "_prisma_migrations" SET checksum = 'tampered'`);
    await assert.rejects(migrate(database.url), /was changed after it was applied/);
  } finally {
    await client.end();
    await database.drop();
  }
});

test('at most one model version can be active', async () => {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  try {
    await client.connect();
    const insert = `INSERT INTO model_versions (id, name, status, path) VALUES (gen_random_uuid(), $1, 'active', $1)`;
    await client.query(insert, ['a']);
    await assert.rejects(client.query(insert, ['b']), /model_versions_one_active_key/);
  } finally {
    await client.end();
    await database.drop();
  }
});
