// Interoperability: Ory Hydra's own generated SDK, unchanged, against the admin client API.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Configuration, OAuth2Api, type OAuth2Client } from '@ory/hydra-client';
import { everyHydraField } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';

let svc: RunningApp;
let api: OAuth2Api;

beforeAll(async () => {
  svc = await startApp();
  api = new OAuth2Api(new Configuration({ basePath: svc.url, baseOptions: { headers: { Authorization: `Bearer ${ADMIN_KEY}` } } }));
});
afterAll(async () => {
  await svc?.close();
});

describe('@ory/hydra-client OAuth2Api against the admin API', () => {
  it('creates, reads, replaces, patches, lists and deletes a client', async () => {
    const input = everyHydraField() as OAuth2Client;
    const { data: created, status } = await api.createOAuth2Client({ oAuth2Client: input });
    expect(status).toBe(201);
    expect(created.client_secret).toBeTruthy();
    expect(created.metadata).toEqual(input.metadata);
    expect(created.access_token_strategy).toBe('jwt');
    const id = created.client_id!;

    const { data: read } = await api.getOAuth2Client({ id });
    expect(read.client_name).toBe(input.client_name);
    expect(read.skip_consent).toBe(true);
    expect(read.refresh_token_grant_refresh_token_lifespan).toBe('720h');

    // The SDK's usual update: read, change, write back everything it read.
    const { data: replaced } = await api.setOAuth2Client({ id, oAuth2Client: { ...read, client_name: 'replaced' } });
    expect(replaced.client_name).toBe('replaced');
    expect(replaced.access_token_strategy).toBe('jwt');
    expect(replaced.redirect_uris).toEqual(input.redirect_uris);

    const { data: patched } = await api.patchOAuth2Client({ id, jsonPatch: [{ op: 'replace', path: '/owner', value: 'team-b' }] });
    expect(patched.owner).toBe('team-b');

    const { data: page } = await api.listOAuth2Clients({ owner: 'team-b', pageSize: 500 });
    expect(page.map((c) => c.client_id)).toContain(id);

    const deleted = await api.deleteOAuth2Client({ id });
    expect(deleted.status).toBe(204);
    await expect(api.getOAuth2Client({ id })).rejects.toMatchObject({ response: { status: 404 } });
  });
});
