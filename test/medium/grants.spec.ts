// The grants of the authorization code flow on real PostgreSQL: the token
// module's services with their real repositories, no HTTP (RFC 6749 §4.1.2,
// §6, §10.5; RFC 7636; RFC 9700 §4.14).
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Global, Module, type INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import type { ClientEntity } from '../../src/clients/client.entity.js';
import { ClientsService } from '../../src/clients/clients.service.js';
import { AuditModule } from '../../src/audit/audit.module.js';
import { CommonModule } from '../../src/common/common.module.js';
import { AppLogger, createPino } from '../../src/common/logging.js';
import { OAuthError } from '../../src/common/oauth-error.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/load-config.js';
import { DatabaseEvents } from '../../src/database/database-events.js';
import { Database } from '../../src/database/database.js';
import { AccessTokensService, type TokenResponse } from '../../src/tokens/access-tokens.service.js';
import { GrantDispatcher } from '../../src/tokens/grants/grant-dispatcher.service.js';
import { GrantsService, type NewGrant } from '../../src/tokens/grants.service.js';
import { TokensModule } from '../../src/tokens/tokens.module.js';
import { webClient } from '../factories/clients.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

let db: { name: string; dsn: string };
let database: Database;
let context: INestApplicationContext;
let grants: GrantsService;
let dispatcher: GrantDispatcher;
let accessTokens: AccessTokensService;
let clients: ClientsService;

beforeAll(async () => {
  db = await createDatabase('registrar_grants');
  database = await Database.open({ dsn: db.dsn, data_dir: undefined, 'database.pool_size': 4 });
  await database.migrate();
  const config = loadConfig({ DSN: db.dsn, SECRETS_SYSTEM: 'medium-test-system-secret-0123456789', LOG_LEVEL: 'error' });

  @Global()
  @Module({
    providers: [{ provide: Database, useValue: database }, { provide: DataSource, useValue: database.dataSource }, DatabaseEvents],
    exports: [Database, DataSource, DatabaseEvents],
  })
  class GrantsTestDatabaseModule {}

  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), CommonModule.forRoot(new AppLogger(createPino('error'))), GrantsTestDatabaseModule, AuditModule, TokensModule],
  }).compile();
  context = await moduleRef.init();
  grants = context.get(GrantsService);
  dispatcher = context.get(GrantDispatcher);
  accessTokens = context.get(AccessTokensService);
  clients = context.get(ClientsService);
});

afterAll(async () => {
  await context?.close();
  await database?.close();
  await dropDatabase(db.name);
});

async function newClient(overrides: Record<string, unknown> = {}): Promise<ClientEntity> {
  // The admin door's path: validated metadata, then the one create path.
  const fields = await clients.validate(webClient(overrides), { defaultScope: '', allowLocalhostRedirects: true });
  const strategy = overrides.access_token_strategy as 'jwt' | 'opaque' | undefined;
  return (await clients.create({ fields, accessTokenStrategy: strategy })).client;
}

function consent(client: ClientEntity, overrides: Partial<NewGrant> = {}): Promise<string> {
  return grants.createGrant({
    clientId: client.id,
    subject: 'alice',
    scope: ['openid', 'offline_access'],
    audience: [],
    authTime: new Date(),
    acr: '',
    amr: ['pwd'],
    session: { id_token: {}, access_token: {} },
    redirectUri: 'https://app.example.com/callback',
    ...overrides,
  });
}

function token(client: ClientEntity, params: Record<string, string>): Promise<TokenResponse> {
  return dispatcher.dispatch(dispatcher.handlerFor(params.grant_type), client, { params, lists: {} });
}

function redeem(client: ClientEntity, code: string, extra: Record<string, string> = {}): Promise<TokenResponse> {
  return token(client, { grant_type: 'authorization_code', code, redirect_uri: 'https://app.example.com/callback', ...extra });
}

function refresh(client: ClientEntity, refreshToken: string, extra: Record<string, string> = {}): Promise<TokenResponse> {
  return token(client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

/** The OAuth error code a promise rejects with. */
async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OAuthError) return err.code;
    throw err;
  }
  throw new Error('expected an OAuth error');
}

async function isActive(tokens: TokenResponse): Promise<{ access: boolean; refresh: boolean }> {
  return {
    access: (await accessTokens.lookup(tokens.access_token)) !== undefined,
    refresh: tokens.refresh_token ? (await accessTokens.introspect(tokens.refresh_token)).active : false,
  };
}

describe('authorization code redemption (RFC 6749 §4.1.3)', () => {
  it('issues an access token, a refresh token for offline_access and an ID token for openid', async () => {
    const client = await newClient();
    const tokens = await redeem(client, await consent(client));
    expect(tokens.id_token).toEqual(expect.any(String));
    expect(await isActive(tokens)).toEqual({ access: true, refresh: true });
    expect((await accessTokens.lookup(tokens.access_token))?.subject).toBe('alice');
  });

  it('accepts a code once; its second use revokes the grant and every token the first use issued (RFC 6749 §4.1.2)', async () => {
    const client = await newClient();
    const code = await consent(client);
    const first = await redeem(client, code);
    expect(await errorOf(redeem(client, code))).toBe('invalid_grant');
    expect(await isActive(first)).toEqual({ access: false, refresh: false });
    const { rows } = await query(`SELECT revoked_at FROM oauth2_grants WHERE client_id = $1`, [client.id], db.dsn);
    expect(rows).toHaveLength(1);
    expect(rows[0].revoked_at).not.toBeNull();
  });

  it('leaves no active token when one code is redeemed twice at once', async () => {
    const client = await newClient();
    const code = await consent(client);
    const results = await Promise.allSettled([redeem(client, code), redeem(client, code)]);
    const issued = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(issued.length).toBeLessThan(2);
    for (const tokens of issued) expect(await isActive(tokens)).toEqual({ access: false, refresh: false });
    const { rows } = await query(`SELECT count(*)::int AS n FROM access_tokens WHERE client_id = $1 AND revoked_at IS NULL`, [client.id], db.dsn);
    expect(rows[0].n).toBe(0);
  });

  it('refuses another client’s code without spending it', async () => {
    const owner = await newClient();
    const other = await newClient();
    const code = await consent(owner);
    expect(await errorOf(redeem(other, code))).toBe('invalid_grant');
    expect((await redeem(owner, code)).access_token).toEqual(expect.any(String));
  });

  it('burns a code redeemed with a wrong PKCE verifier (RFC 7636 §4.6)', async () => {
    const client = await newClient();
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = await consent(client, { codeChallenge: challenge });
    expect(await errorOf(redeem(client, code, { code_verifier: randomBytes(32).toString('base64url') }))).toBe('invalid_grant');
    expect(await errorOf(redeem(client, code, { code_verifier: verifier }))).toBe('invalid_grant');
  });

  it('revokes JWT access tokens with their grant through grant_jwts', async () => {
    const client = await newClient({ access_token_strategy: 'jwt' });
    const code = await consent(client);
    const first = await redeem(client, code);
    expect(first.access_token.split('.')).toHaveLength(3);
    expect(await isActive(first)).toEqual({ access: true, refresh: true });
    await grants.revokeGrantsOf('alice', client.id);
    expect(await isActive(first)).toEqual({ access: false, refresh: false });
  });
});

describe('refresh token rotation (RFC 6749 §6, RFC 9700 §4.14.2)', () => {
  it('spends the presented refresh token and issues a new one', async () => {
    const client = await newClient();
    const first = await redeem(client, await consent(client));
    const second = await refresh(client, first.refresh_token!);
    expect(second.refresh_token).toEqual(expect.any(String));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await accessTokens.introspect(first.refresh_token!)).active).toBe(false);
    expect(await isActive(second)).toEqual({ access: true, refresh: true });
  });

  it('revokes the whole grant when a spent refresh token is presented again', async () => {
    const client = await newClient();
    const first = await redeem(client, await consent(client));
    const second = await refresh(client, first.refresh_token!);
    expect(await errorOf(refresh(client, first.refresh_token!))).toBe('invalid_grant');
    expect(await isActive(second)).toEqual({ access: false, refresh: false });
    expect(await errorOf(refresh(client, second.refresh_token!))).toBe('invalid_grant');
  });

  it('narrows the access token’s scope on request but keeps the refresh token’s, and never widens it', async () => {
    const client = await newClient({ scope: 'openid offline_access profile' });
    const first = await redeem(client, await consent(client));
    expect(await errorOf(refresh(client, first.refresh_token!, { scope: 'openid profile' }))).toBe('invalid_scope');
    const narrowed = await refresh(client, first.refresh_token!, { scope: 'openid' });
    expect(narrowed.scope).toBe('openid');
    const kept = await accessTokens.introspect(narrowed.refresh_token!);
    expect(kept.active && kept.scope).toBe('openid offline_access');
  });

  it('refuses a refresh token presented by another client', async () => {
    const owner = await newClient();
    const other = await newClient();
    const first = await redeem(owner, await consent(owner));
    expect(await errorOf(refresh(other, first.refresh_token!))).toBe('invalid_grant');
    expect(await isActive(first)).toEqual({ access: true, refresh: true });
  });
});

describe('the grant type dispatch (RFC 6749 §5.2)', () => {
  it('answers unauthorized_client when the client did not register the grant type', async () => {
    const client = await newClient({ grant_types: ['authorization_code'], scope: 'openid' });
    expect(await errorOf(token(client, { grant_type: 'client_credentials' }))).toBe('unauthorized_client');
  });

  it('answers unsupported_grant_type for a grant type it does not know, and invalid_request for none', async () => {
    expect(await errorOf(Promise.resolve().then(() => dispatcher.handlerFor('password')))).toBe('unsupported_grant_type');
    expect(await errorOf(Promise.resolve().then(() => dispatcher.handlerFor(undefined)))).toBe('invalid_request');
  });
});
