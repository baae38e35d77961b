// The authorization code flow end to end over real HTTP with manual
// redirects: a public native client registered through DCR (PKCE, loopback
// port change) and a confidential web client.
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { nativeAppClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { registerClient } from '../support/dcr.js';
import { Browser, pkcePair, runFlow, tokenRequest } from '../support/oauth-flow.js';

describe('authorization code flow', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' } });
  });
  afterAll(() => svc.close());

  it('runs for a DCR public native client with PKCE on a loopback redirect with another port', async () => {
    const client = await registerClient(svc, nativeAppClient({ scope: 'openid offline_access profile' }));
    const clientId = client.client_id as string;
    const { verifier, challenge } = pkcePair();
    const browser = new Browser();
    const redirectUri = 'http://127.0.0.1:53123/callback';
    const flow = await runFlow(svc, browser, {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid offline_access',
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }, { login: { subject: 'alice', acr: 'urn:example:pwd', amr: ['pwd'] }, consent: { session: { id_token: { email: 'alice@example.com' } } } });

    expect(flow.callback.origin + flow.callback.pathname).toBe(redirectUri);
    expect(flow.callback.searchParams.get('state')).toBe('st-1');
    expect(flow.callback.searchParams.get('iss')).toBe(svc.url);
    expect(flow.loginRequest.skip).toBe(false);
    expect(flow.loginRequest.requested_scope).toEqual(['openid', 'offline_access']);

    const tokens = await tokenRequest(svc, {
      grant_type: 'authorization_code',
      code: flow.code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', scope: 'openid offline_access' });
    expect(typeof tokens.body.refresh_token).toBe('string');

    const jwks = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`));
    const { payload: idToken } = await jwtVerify(tokens.body.id_token as string, jwks, { issuer: svc.url, audience: clientId });
    expect(idToken).toMatchObject({ sub: 'alice', nonce: 'n-1', acr: 'urn:example:pwd', amr: ['pwd'], email: 'alice@example.com' });
    expect(typeof idToken.auth_time).toBe('number');
    expect(typeof idToken.at_hash).toBe('string');

    const userinfo = await fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${tokens.body.access_token as string}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toEqual({ sub: 'alice', email: 'alice@example.com' });

    const refreshed = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: clientId });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    expect(decodeJwt(refreshed.body.id_token as string).sub).toBe('alice');
  });

  it('runs for a confidential web client authenticating with client_secret_basic', async () => {
    const client = await registerClient(svc, {
      redirect_uris: ['https://app.example.com/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid',
    });
    const browser = new Browser();
    const flow = await runFlow(svc, browser, {
      client_id: client.client_id as string,
      response_type: 'code',
      scope: 'openid',
      state: 'xyz',
    });
    const tokens = await tokenRequest(
      svc,
      { grant_type: 'authorization_code', code: flow.code },
      { id: client.client_id as string, secret: client.client_secret as string },
    );
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeUndefined();
    expect(decodeJwt(tokens.body.id_token as string).sub).toBe('alice');
  });
});
