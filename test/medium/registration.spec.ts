// RegistrationService with its real repositories on PostgreSQL: what a
// registration writes (the client, the IAT use, the policy slot) and what an
// RFC 7592 update does to the registration access token.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ClientEntity } from '../../src/clients/client.entity.js';
import { ClientsService } from '../../src/clients/clients.service.js';
import { tokenHash } from '../../src/common/secrets.js';
import type { InitialAccessTokenEntity } from '../../src/policy/initial-access-token.entity.js';
import { InitialAccessTokensService } from '../../src/policy/initial-access-tokens.service.js';
import { PoliciesService } from '../../src/policy/policies.service.js';
import { RegistrationAccessTokensService } from '../../src/registration/registration-access-tokens.service.js';
import { RegistrationModule } from '../../src/registration/registration.module.js';
import { RegistrationService } from '../../src/registration/registration.service.js';
import { newMediumService, type MediumService } from './support.js';

let medium: MediumService;
let registration: RegistrationService;
let iats: InitialAccessTokensService;

beforeAll(async () => {
  medium = await newMediumService(RegistrationModule);
  registration = medium.get(RegistrationService);
  iats = medium.get(InitialAccessTokensService);
});
afterAll(async () => {
  await medium?.close();
});

const MACHINE = { grant_types: ['client_credentials'], client_name: 'medium test client' };

async function iatWithUses(maxUses: number, policies: string[] = []): Promise<InitialAccessTokenEntity> {
  const { token } = await iats.mint({ max_uses: maxUses, policies });
  return iats.authenticate(token);
}

async function usesOf(iat: InitialAccessTokenEntity): Promise<number> {
  const [row] = await medium.sql<{ uses: number }>('SELECT uses FROM initial_access_tokens WHERE id = $1', [iat.id]);
  return row.uses;
}

async function clientsOf(iat: InitialAccessTokenEntity): Promise<number> {
  const [row] = await medium.sql<{ n: number }>('SELECT count(*)::int AS n FROM clients WHERE initial_access_token_id = $1', [iat.id]);
  return row.n;
}

describe('RegistrationService.register', () => {
  it('stores the client and counts exactly one use of its initial access token', async () => {
    const iat = await iatWithUses(3);
    const response = await registration.register({ ...MACHINE }, iat);
    expect(await usesOf(iat)).toBe(1);
    const [row] = await medium.sql<{ created_via: string; initial_access_token_id: string; registration_access_token_hash: string }>(
      'SELECT created_via, initial_access_token_id, registration_access_token_hash FROM clients WHERE id = $1',
      [response.client_id],
    );
    expect(row).toEqual({
      created_via: 'dcr',
      initial_access_token_id: iat.id,
      registration_access_token_hash: tokenHash(response.registration_access_token as string),
    });
  });

  it('counts one use and one policy slot when a policy limits its clients (the transactional path)', async () => {
    const policy = `medium-limited-${Date.now()}`;
    await medium.get(PoliciesService).create({ name: policy, rules: { max_clients: 1 } });
    const iat = await iatWithUses(5, [policy]);
    await registration.register({ ...MACHINE }, iat);
    expect(await usesOf(iat)).toBe(1);
    const [row] = await medium.sql<{ clients_created: number }>('SELECT clients_created FROM policies WHERE name = $1', [policy]);
    expect(row.clients_created).toBe(1);

    // The policy is full: the refusal rolls back the client and gives the IAT use back.
    await expect(registration.register({ ...MACHINE }, iat)).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    expect(await usesOf(iat)).toBe(1);
    expect(await clientsOf(iat)).toBe(1);
  });

  it('burns no use when the metadata is refused', async () => {
    const iat = await iatWithUses(2);
    await expect(registration.register({ grant_types: ['password'] }, iat)).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    expect(await usesOf(iat)).toBe(0);
    expect(await clientsOf(iat)).toBe(0);
  });

  it('refuses a token used up since it was authenticated, storing nothing', async () => {
    const iat = await iatWithUses(1);
    await registration.register({ ...MACHINE }, iat);
    await expect(registration.register({ ...MACHINE }, iat)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(await usesOf(iat)).toBe(1);
    expect(await clientsOf(iat)).toBe(1);
  });
});

describe('RegistrationService.update', () => {
  async function registered(): Promise<{ client: ClientEntity; token: string }> {
    const response = await registration.register({ ...MACHINE }, undefined);
    const client = await medium.get(ClientsService).get(response.client_id as string);
    return { client, token: response.registration_access_token as string };
  }

  it('rotates the registration access token: the new one works, the old one no longer does', async () => {
    const { client, token } = await registered();
    const updated = await registration.update(client, tokenHash(token), { client_id: client.id, ...MACHINE, client_name: 'renamed' });
    const next = updated.registration_access_token as string;
    expect(typeof next).toBe('string');
    expect(next).not.toBe(token);
    expect(updated.client_name).toBe('renamed');
    const rats = medium.get(RegistrationAccessTokensService);
    await expect(rats.authenticate(client.id, token)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(rats.authenticate(client.id, next)).resolves.toMatchObject({ client: { id: client.id } });
  });

  it('refuses a second update with the token the first one rotated away, changing nothing', async () => {
    const { client, token } = await registered();
    await registration.update(client, tokenHash(token), { client_id: client.id, ...MACHINE, client_name: 'first' });
    await expect(
      registration.update(client, tokenHash(token), { client_id: client.id, ...MACHINE, client_name: 'second' }),
    ).rejects.toMatchObject({ code: 'invalid_token' });
    const [row] = await medium.sql<{ name: string }>(`SELECT fields->>'client_name' AS name FROM clients WHERE id = $1`, [client.id]);
    expect(row.name).toBe('first');
  });

  it('deletes the client only with its current token', async () => {
    const { client, token } = await registered();
    await expect(registration.delete(client.id, tokenHash('not-the-token'))).rejects.toMatchObject({ code: 'invalid_token' });
    await registration.delete(client.id, tokenHash(token));
    expect(await medium.sql('SELECT id FROM clients WHERE id = $1', [client.id])).toEqual([]);
  });
});
