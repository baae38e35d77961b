// The login and consent session repositories on a real PostgreSQL database:
// which sessions count as current, and whose consent is remembered for which client.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ConsentSessionsRepository } from '../../src/authorization/consent-sessions.repository.js';
import { LoginSessionsRepository } from '../../src/authorization/login-sessions.repository.js';
import { Database } from '../../src/database/database.js';
import { webClient } from '../factories/clients.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

let db: { name: string; dsn: string };
let database: Database;
let logins: LoginSessionsRepository;
let consents: ConsentSessionsRepository;

beforeAll(async () => {
  db = await createDatabase('registrar_sessions');
  database = await Database.open({ dsn: db.dsn, data_dir: undefined, 'database.pool_size': 2 });
  await database.migrate();
  logins = new LoginSessionsRepository(database);
  consents = new ConsentSessionsRepository(database);
});
afterAll(async () => {
  await database?.close();
  await dropDatabase(db.name);
});

const unique = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;

async function newSession(subject: string, ttlSeconds = 3600): Promise<string> {
  const id = unique('session');
  await logins.insert({ id, subject, authenticatedAt: Math.floor(Date.now() / 1000) - 60, acr: 'urn:example:pwd', amr: ['pwd'], ttlSeconds });
  return id;
}

async function newClient(): Promise<string> {
  const id = unique('client');
  await query(`INSERT INTO clients (id, created_via, fields) VALUES ($1, 'admin', $2)`, [id, JSON.stringify(webClient())], db.dsn);
  return id;
}

function rememberConsent(subject: string, clientId: string, scope: string[], rememberFor = 0): Promise<void> {
  return consents.insert({ subject, clientId, scope, audience: [], session: { id_token: {}, access_token: {} }, rememberFor });
}

describe('login sessions', () => {
  it('a remembered session is current, with when and how the user authenticated', async () => {
    const subject = unique('alice');
    const id = await newSession(subject);
    const session = await logins.findLive(id);
    expect(session).toEqual({ id, subject, authenticated_at: expect.any(Number), acr: 'urn:example:pwd', amr: ['pwd'] });
    expect(Math.floor(Date.now() / 1000) - session!.authenticated_at).toBeGreaterThanOrEqual(59);
    expect(await logins.authenticatedAt(id)).toBe(session!.authenticated_at);
  });

  it('a revoked session is not current, and is revoked once', async () => {
    const id = await newSession(unique('bob'));
    expect(await logins.revoke({ ids: [id] })).toBe(1);
    expect(await logins.findLive(id)).toBeUndefined();
    expect(await logins.revoke({ ids: [id] })).toBe(0);
  });

  it('an expired session is not current', async () => {
    const id = await newSession(unique('carol'));
    await query(`UPDATE login_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [id], db.dsn);
    expect(await logins.findLive(id)).toBeUndefined();
  });

  it('revoking by subject ends every session of that subject and no other', async () => {
    const subject = unique('dave');
    const own = [await newSession(subject), await newSession(subject)];
    const other = await newSession(unique('erin'));
    expect(await logins.revoke({ subject })).toBe(2);
    for (const id of own) expect(await logins.findLive(id)).toBeUndefined();
    expect(await logins.findLive(other)).toBeDefined();
  });

  it('an unknown id is not current', async () => {
    expect(await logins.findLive(unique('missing'))).toBeUndefined();
    expect(await logins.authenticatedAt(unique('missing'))).toBeUndefined();
  });
});

describe('remembered consent', () => {
  it('is remembered per subject and client', async () => {
    const [a, b] = [await newClient(), await newClient()];
    const subject = unique('frank');
    await rememberConsent(subject, a, ['openid']);
    expect((await consents.findLive(subject, a)).map((c) => c.granted_scope)).toEqual([['openid']]);
    expect(await consents.findLive(subject, b)).toEqual([]);
    expect(await consents.findLive(unique('grace'), a)).toEqual([]);
  });

  it('lists the newest first', async () => {
    const client = await newClient();
    const subject = unique('heidi');
    await rememberConsent(subject, client, ['openid']);
    await rememberConsent(subject, client, ['openid', 'offline_access']);
    expect((await consents.findLive(subject, client)).map((c) => c.granted_scope)).toEqual([['openid', 'offline_access'], ['openid']]);
  });

  it('an expired consent is not remembered; remember_for 0 lasts until revoked', async () => {
    const client = await newClient();
    const subject = unique('ivan');
    await rememberConsent(subject, client, ['offline_access'], 60);
    await query(`UPDATE consent_sessions SET expires_at = now() - interval '1 second' WHERE subject = $1`, [subject], db.dsn);
    await rememberConsent(subject, client, ['openid'], 0);
    expect((await consents.findLive(subject, client)).map((c) => c.granted_scope)).toEqual([['openid']]);
  });

  it('is forgotten for one client, or for every client', async () => {
    const [a, b, c] = [await newClient(), await newClient(), await newClient()];
    const subject = unique('judy');
    for (const client of [a, b, c]) await rememberConsent(subject, client, ['openid']);
    await consents.revoke(subject, a);
    expect(await consents.findLive(subject, a)).toEqual([]);
    expect(await consents.findLive(subject, b)).toHaveLength(1);
    await consents.revoke(subject);
    expect(await consents.findLive(subject, b)).toEqual([]);
    expect(await consents.findLive(subject, c)).toEqual([]);
  });
});
