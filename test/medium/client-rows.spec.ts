// Rows that name a client (tokens, grants, flows, consent) after migration
// 1764250000000: a client is a row of clients or of metadata_document_clients
// (README, "Client ID Metadata Documents"), and the database still refuses
// rows for clients that do not exist and deletes a client's rows with it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Database } from '../../src/database/database.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

let db: { name: string; dsn: string };
let database: Database;

beforeAll(async () => {
  db = await createDatabase('registrar_client_rows');
  database = await Database.open({ dsn: db.dsn, data_dir: undefined, 'database.pool_size': 2 });
  await database.migrate();
});
afterAll(async () => {
  await database?.close();
  await dropDatabase(db.name);
});

const run = (sql: string, params: unknown[] = []) => query(sql, params, db.dsn);

async function insertClient(id: string): Promise<void> {
  await run(`INSERT INTO clients (id, created_via, fields) VALUES ($1, 'admin', '{}')`, [id]);
}

async function insertToken(id: string, clientId: string): Promise<void> {
  await run(
    `INSERT INTO access_tokens (id, token_hash, client_id, subject, scope, audience, issued_at, expires_at)
     VALUES ($1, $1, $2, 's', '', '[]', now(), now() + interval '1 hour')`,
    [id, clientId],
  );
}

async function insertGrant(id: string, clientId: string): Promise<void> {
  await run(
    `INSERT INTO oauth2_grants (id, client_id, subject, scope, audience, auth_time, session, expires_at)
     VALUES ($1, $2, 's', '', '[]', now(), '{}', now() + interval '1 hour')`,
    [id, clientId],
  );
}

describe('rows that name a client', () => {
  it('are refused for a client_id that is neither a stored client nor a metadata document client (23503)', async () => {
    await expect(insertToken('t-unknown', 'nobody')).rejects.toMatchObject({ code: '23503' });
    await expect(insertGrant('g-unknown', 'https://client.example.com/nobody.json')).rejects.toMatchObject({ code: '23503' });
  });

  it('are accepted for a metadata document client, which is not a row of clients', async () => {
    const url = 'https://client.example.com/metadata.json';
    await run(`INSERT INTO metadata_document_clients (id) VALUES ($1)`, [url]);
    await insertToken('t-cimd', url);
    await insertGrant('g-cimd', url);
    expect((await run(`SELECT id FROM clients WHERE id = $1`, [url])).rowCount).toBe(0);
    expect((await run(`SELECT id FROM access_tokens WHERE client_id = $1`, [url])).rowCount).toBe(1);
  });

  it('are deleted with their stored client, and only theirs', async () => {
    await insertClient('doomed');
    await insertClient('kept');
    await insertToken('t-doomed', 'doomed');
    await insertGrant('g-doomed', 'doomed');
    await insertToken('t-kept', 'kept');
    await run(`DELETE FROM clients WHERE id = 'doomed'`);
    expect((await run(`SELECT id FROM access_tokens WHERE client_id = 'doomed'`)).rowCount).toBe(0);
    expect((await run(`SELECT id FROM oauth2_grants WHERE client_id = 'doomed'`)).rowCount).toBe(0);
    expect((await run(`SELECT id FROM access_tokens WHERE client_id = 'kept'`)).rowCount).toBe(1);
  });
});
