// Interoperability: oauth4webapi, unchanged, through discovery, registration,
// client_credentials, introspection and revocation.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oauth from 'oauth4webapi';
import { startApp, type RunningApp } from '../support/app.js';
import { mintIat } from '../support/dcr.js';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt' } });
});
afterAll(async () => {
  await svc?.close();
});

describe('oauth4webapi', () => {
  it('discovers, registers, gets a client_credentials token, introspects and revokes it', async () => {
    const issuer = new URL(svc.url);
    const insecure = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    expect(as.registration_endpoint).toBe(`${svc.url}/oauth2/register`);

    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { client_name: 'oauth4webapi', grant_types: ['client_credentials'], scope: 'read' },
        { ...insecure, initialAccessToken: await mintIat(svc) },
      ),
    );
    const client: oauth.Client = { client_id: registered.client_id };
    const auth = oauth.ClientSecretBasic(registered.client_secret as string);

    const token = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'read' }, insecure),
    );
    expect(token.token_type).toBe('bearer');
    expect(token.scope).toBe('read');

    const active = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token.access_token, insecure));
    expect(active).toMatchObject({ active: true, client_id: registered.client_id, scope: 'read' });

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, token.access_token, insecure));
    const inactive = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token.access_token, insecure));
    expect(inactive.active).toBe(false);
  });
});
