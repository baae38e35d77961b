import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Database } from '../../src/database/database.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

let db: { name: string; dsn: string };
let database: Database;

beforeAll(async () => {
  db = await createDatabase('registrar_migrate');
  database = await Database.open({ dsn: db.dsn, data_dir: undefined, 'database.pool_size': 2 });
});
afterAll(async () => {
  await database?.close();
  await dropDatabase(db.name);
});

describe('migrations on a fresh PostgreSQL database', () => {
  it('run up, down and up again, leaving the same schema', async () => {
    await database.migrate();
    const { rows: applied } = await query(`SELECT name FROM registrar_migrations ORDER BY id`, [], db.dsn);
    expect(applied.map((r: { name: string }) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
    const schemaUp = await schemaSnapshot();
    expect(schemaUp).toContain('clients.fields jsonb NO');
    // The revocation signal of the token caches (README "Performance"), and what it replaced nothing of.
    expect(schemaUp).toEqual(
      expect.arrayContaining([
        'trigger access_tokens.access_tokens_ended_on_update UPDATE STATEMENT',
        'trigger access_tokens.access_tokens_ended_on_delete DELETE STATEMENT',
        'function registrar_access_tokens_ended',
      ]),
    );

    for (let i = 0; i < MIGRATIONS.length; i++) await database.dataSource.undoLastMigration({ transaction: 'each' });
    expect(await schemaSnapshot()).toEqual([]);

    await database.migrate();
    expect(await schemaSnapshot()).toEqual(schemaUp);
  });

  it('are idempotent when several instances start at once', async () => {
    const others = await Promise.all([1, 2, 3].map(() => Database.open({ dsn: db.dsn, data_dir: undefined, 'database.pool_size': 2 })));
    try {
      await Promise.all(others.map((d) => d.migrate()));
    } finally {
      await Promise.all(others.map((d) => d.close()));
    }
    const { rows } = await query(`SELECT count(*)::int AS n FROM registrar_migrations`, [], db.dsn);
    expect(rows[0].n).toBe(MIGRATIONS.length);
  });
});

async function schemaSnapshot(): Promise<string[]> {
  const { rows } = await query(
    `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS c
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> 'registrar_migrations'
      UNION ALL
     SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'registrar_migrations'
      UNION ALL
     SELECT 'trigger ' || event_object_table || '.' || trigger_name || ' ' || event_manipulation || ' ' || action_orientation
       FROM information_schema.triggers WHERE trigger_schema = 'public'
      UNION ALL
     SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
      ORDER BY 1`,
    [],
    db.dsn,
  );
  return rows.map((r: { c: string }) => r.c);
}
