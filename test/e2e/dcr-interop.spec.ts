// Interoperability: unchanged third-party clients drive the whole RFC 7591/7592 cycle.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Configuration, OidcApi } from '@ory/hydra-client';
import * as oidc from 'openid-client';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat } from '../support/dcr.js';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt' } });
});
afterAll(async () => {
  await svc?.close();
});

describe('@ory/hydra-client OidcApi', () => {
  it('registers with an initial access token, then reads, updates and deletes with the registration access token', async () => {
    const iat = await mintIat(svc);
    const anonymous = new OidcApi(new Configuration({ basePath: svc.url }));
    const { data: created, status } = await anonymous.createOidcDynamicClient(
      { oAuth2Client: { client_name: 'hydra sdk', grant_types: ['client_credentials'], scope: 'read' } },
      { headers: { Authorization: `Bearer ${iat}` } },
    );
    expect(status).toBe(201);
    expect(created.client_secret).toBeTruthy();
    expect(created.registration_access_token).toBeTruthy();
    expect(created.access_token_strategy).toBeUndefined();
    const id = created.client_id!;

    const withRat = (rat: string) => new OidcApi(new Configuration({ basePath: svc.url, accessToken: rat }));
    const { data: read } = await withRat(created.registration_access_token!).getOidcDynamicClient({ id });
    expect(read.client_name).toBe('hydra sdk');
    expect(read.client_secret).toBeUndefined();

    const { data: updated } = await withRat(created.registration_access_token!).setOidcDynamicClient({
      id,
      oAuth2Client: { client_id: id, client_name: 'hydra sdk, renamed', grant_types: ['client_credentials'], scope: 'read' },
    });
    expect(updated.client_name).toBe('hydra sdk, renamed');
    const rotated = updated.registration_access_token!;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(created.registration_access_token);

    await expect(withRat(created.registration_access_token!).getOidcDynamicClient({ id })).rejects.toMatchObject({ response: { status: 401 } });

    const deleted = await withRat(rotated).deleteOidcDynamicClient({ id });
    expect(deleted.status).toBe(204);
    expect((await svc.admin(`/admin/clients/${id}`)).status).toBe(404);
  });
});

describe('openid-client dynamicClientRegistration', () => {
  it('discovers the registration endpoint and registers a client with an initial access token', async () => {
    const iat = await mintIat(svc);
    const config = await oidc.dynamicClientRegistration(
      new URL(svc.url),
      { client_name: 'openid-client', redirect_uris: ['http://127.0.0.1:8765/cb'], grant_types: ['authorization_code'], response_types: ['code'] },
      undefined,
      { initialAccessToken: iat, execute: [oidc.allowInsecureRequests] },
    );
    const metadata = config.clientMetadata();
    expect(metadata.client_id).toBeTruthy();
    expect(metadata.client_secret).toBeTruthy();
    expect(metadata.redirect_uris).toEqual(['http://127.0.0.1:8765/cb']);
    expect(config.serverMetadata().registration_endpoint).toBe(`${svc.url}/oauth2/register`);

    // The registration access token it received manages the client (RFC 7592).
    const rat = metadata.registration_access_token as string;
    const res = await manage(svc, 'GET', metadata.client_id, rat);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ client_name: 'openid-client' });
    expect((await manage(svc, 'DELETE', metadata.client_id, rat)).status).toBe(204);
  });
});
