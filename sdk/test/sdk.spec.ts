// The SDK against the real service, over real HTTP.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import openapiTS, { astToString } from 'openapi-typescript';
import { startApp, ADMIN_KEY, type RunningApp } from '../../test/support/app.js';
import { Registrar, RegistrarError } from '../src/index.js';

let svc: RunningApp;
let registrar: Registrar;

beforeAll(async () => {
  svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt' } });
  registrar = new Registrar({ baseUrl: svc.url });
});
afterAll(async () => {
  await svc?.close();
});

describe('@registrar/sdk', () => {
  it('mints an IAT, registers, gets a token, reads, updates (keeping the rotated token) and deletes', async () => {
    const iat = await registrar.mintInitialAccessToken(ADMIN_KEY, { max_uses: 1, description: 'sdk test' });
    const client = await registrar.register({ client_name: 'sdk', grant_types: ['client_credentials'], scope: 'read write' }, iat.token);
    expect(client.clientId).toBeTruthy();
    const secret = client.metadata.client_secret as string;

    const token = await registrar.clientCredentials({ clientId: client.clientId, clientSecret: secret, scope: 'read' });
    expect(token.token_type).toBe('Bearer');
    expect(token.access_token.split('.')).toHaveLength(3);

    expect((await client.read()).client_name).toBe('sdk');
    const firstRat = client.registrationAccessToken;
    await client.update({ client_name: 'sdk renamed', grant_types: ['client_credentials'], scope: 'read write' });
    expect(client.registrationAccessToken).not.toBe(firstRat);
    expect((await client.read()).client_name).toBe('sdk renamed');

    await client.delete();
    await expect(client.read()).rejects.toMatchObject({ status: 401, error: 'invalid_token' });
  });

  it('surfaces OAuth errors as RegistrarError with the code and description', async () => {
    const iat = await registrar.mintInitialAccessToken(ADMIN_KEY);
    const failure = await registrar.register({ grant_types: ['client_credentials'], access_token_strategy: 'opaque' } as never, iat.token).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RegistrarError);
    expect(failure).toMatchObject({ status: 400, error: 'invalid_client_metadata' });
    expect((failure as RegistrarError).description).toContain('access_token_strategy');
  });

  it('authenticates with client_secret_post when the client registered it', async () => {
    const iat = await registrar.mintInitialAccessToken(ADMIN_KEY);
    const client = await registrar.register(
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post', scope: 'read' },
      iat.token,
    );
    const token = await registrar.clientCredentials({
      clientId: client.clientId,
      clientSecret: client.metadata.client_secret as string,
      authMethod: 'client_secret_post',
    });
    expect(token.scope).toBe('read');
  });

  it('rotates a client secret, as the registrant and as the operator: the new secret and the previous one both get tokens', async () => {
    const iat = await registrar.mintInitialAccessToken(ADMIN_KEY);
    const client = await registrar.register({ grant_types: ['client_credentials'], scope: 'read' }, iat.token);
    const first = client.metadata.client_secret as string;
    await client.rotateSecret();
    const second = client.metadata.client_secret as string;
    expect(second).not.toBe(first);
    const rotated = await registrar.admin(ADMIN_KEY).rotateClientSecret(client.clientId, { previous_secret_expires_in: '1h' });
    const third = rotated.client_secret as string;
    expect(new Set([first, second, third]).size).toBe(3);
    expect(rotated.client_secrets).toHaveLength(3);
    for (const clientSecret of [first, second, third]) {
      expect((await registrar.clientCredentials({ clientId: client.clientId, clientSecret })).token_type).toBe('Bearer');
    }
    await expect(registrar.admin(ADMIN_KEY).rotateClientSecret('no-such-client')).rejects.toMatchObject({ status: 404, error: 'not_found' });
  });

  it('recovers a lost registration access token of a private_key_jwt client with a client assertion', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'sdk-recovery', alg: 'ES256' };
    const iat = await registrar.mintInitialAccessToken(ADMIN_KEY);
    const client = await registrar.register(
      { grant_types: ['client_credentials'], scope: 'read', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } },
      iat.token,
    );
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'sdk-recovery' })
      .setIssuer(client.clientId)
      .setSubject(client.clientId)
      .setAudience(svc.url)
      .setJti(crypto.randomUUID())
      .setExpirationTime('1m')
      .sign(privateKey);
    const recovered = await registrar.recoverRegistrationAccessToken(client.clientId, assertion);
    expect(recovered.clientId).toBe(client.clientId);
    expect(recovered.registrationAccessToken).not.toBe(client.registrationAccessToken);
    expect((await recovered.read()).token_endpoint_auth_method).toBe('private_key_jwt');
    await expect(client.read()).rejects.toMatchObject({ status: 401, error: 'invalid_token' });
    await expect(registrar.recoverRegistrationAccessToken(client.clientId, assertion)).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
  });

  it('lists audit events across pages, filtered by type and client', async () => {
    const admin = registrar.admin(ADMIN_KEY);
    const iat = await admin.mintInitialAccessToken({ max_uses: 1 });
    const client = await registrar.register({ client_name: 'sdk audit', grant_types: ['client_credentials'] }, iat.token);
    await client.read();
    await client.read();
    const seen = [];
    for await (const e of admin.events({ client_id: client.clientId, type: ['client.read', 'client.registered'], page_size: 1 })) seen.push(e);
    expect(seen.map((e) => e.type)).toEqual(['client.read', 'client.read', 'client.registered']);
    expect(seen[2].actor).toEqual({ type: 'iat', id: iat.id });
    const reads = [];
    for await (const e of admin.events({ client_id: client.clientId, type: ['client.read'] })) reads.push(e.id);
    expect(reads).toEqual([seen[0].id, seen[1].id]);
    await expect(admin.events({ actor_type: 'robot' as never }).next()).rejects.toMatchObject({ status: 400, error: 'invalid_request' });
    await client.delete();
  });

  it('trusts, lists, reads and removes JWT grant issuers', async () => {
    const admin = registrar.admin(ADMIN_KEY);
    const { publicKey } = await generateKeyPair('ES256');
    const { x, y } = await exportJWK(publicKey);
    const jwk = { kty: 'EC' as const, crv: 'P-256' as const, x, y, kid: `sdk-${Date.now()}` };
    const issuer = `https://sdk-idp-${Date.now()}.example.com`;
    const trusted = await admin.trustJwtGrantIssuer({ issuer, subject: 'alice', scope: ['read'], jwk, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect(trusted).toMatchObject({ issuer, subject: 'alice', scope: ['read'], public_key: { kid: jwk.kid } });
    const listed: string[] = [];
    for await (const t of admin.trustedJwtGrantIssuers({ issuer, page_size: 1 })) listed.push(t.id as string);
    expect(listed).toEqual([trusted.id]);
    expect((await admin.getTrustedJwtGrantIssuer(trusted.id as string)).issuer).toBe(issuer);
    await admin.deleteTrustedJwtGrantIssuer(trusted.id as string);
    await expect(admin.getTrustedJwtGrantIssuer(trusted.id as string)).rejects.toMatchObject({ status: 404 });
  });

  it('filters clients by provenance, suspends and resumes one, and counts a bulk action with a dry run', async () => {
    const admin = registrar.admin(ADMIN_KEY);
    const iat = await registrar.mintInitialAccessToken(ADMIN_KEY, { max_uses: 2 });
    const a = await registrar.register({ grant_types: ['client_credentials'], scope: 'read' }, iat.token);
    const b = await registrar.register({ grant_types: ['client_credentials'], scope: 'read' }, iat.token);
    const ids = [a.clientId, b.clientId].sort();
    const listed: string[] = [];
    for await (const c of admin.clients({ initial_access_token_id: iat.id, created_via: 'dcr', page_size: 1 })) listed.push(c.client_id as string);
    expect(listed).toEqual(ids);

    expect(await admin.suspendClient(a.clientId, 'sdk review')).toMatchObject({ suspended_reason: 'sdk review' });
    const suspended: string[] = [];
    for await (const c of admin.clients({ initial_access_token_id: iat.id, suspended: true })) suspended.push(c.client_id as string);
    expect(suspended).toEqual([a.clientId]);
    expect((await admin.resumeClient(a.clientId)).suspended_at).toBeNull();

    expect(await admin.bulkClients({ action: 'delete', filter: { initial_access_token_id: iat.id }, dryRun: true })).toEqual({ matched: 2, sample: ids });
    await expect(admin.bulkClients({ action: 'delete', filter: {} })).rejects.toMatchObject({ status: 400, error: 'invalid_request' });
    expect(await admin.bulkClients({ action: 'delete', filter: { initial_access_token_id: iat.id } })).toEqual({ matched: 2, applied: 2 });
    await expect(admin.getClient(a.clientId)).rejects.toMatchObject({ status: 404 });
  });

  it('ships types generated from the committed openapi.json (regenerate with npm run generate -w sdk)', async () => {
    const spec = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
    const generated = astToString(await openapiTS(spec, { defaultNonNullable: false }));
    const committed = readFileSync(new URL('../src/schema.d.ts', import.meta.url), 'utf8');
    const body = (text: string) => text.slice(text.indexOf('export interface paths'));
    expect(body(committed)).toBe(body(generated));
  });
});
