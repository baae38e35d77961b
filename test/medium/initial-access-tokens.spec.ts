// Initial access tokens (RFC 7591 §3) on PostgreSQL: minted, authenticated,
// consumed, and refused once used up or expired; the janitor removes exactly those.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Database } from '../../src/database/database.js';
import { JanitorService } from '../../src/database/janitor.service.js';
import { InitialAccessTokensService } from '../../src/policy/initial-access-tokens.service.js';
import { PolicyModule } from '../../src/policy/policy.module.js';
import { newMediumService, type MediumService } from './support.js';

let medium: MediumService;
let iats: InitialAccessTokensService;

beforeAll(async () => {
  medium = await newMediumService(PolicyModule);
  iats = medium.get(InitialAccessTokensService);
});
afterAll(async () => {
  await medium?.close();
});

const consume = (iat: Parameters<InitialAccessTokensService['consumeUse']>[0]) =>
  medium.get(Database).transaction(() => iats.consumeUse(iat));

async function expire(id: string): Promise<void> {
  await medium.sql(`UPDATE initial_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
}

describe('InitialAccessTokensService', () => {
  it('mints a token stored only as its hash, which then authenticates', async () => {
    const { iat, token } = await iats.mint({ max_uses: 2, description: 'medium', expires_in: '1h' });
    const [row] = await medium.sql<{ token_hash: string }>('SELECT token_hash FROM initial_access_tokens WHERE id = $1', [iat.id]);
    expect(row.token_hash).not.toContain(token);
    const found = await iats.authenticate(token);
    expect({ id: found.id, maxUses: found.maxUses, uses: found.uses, description: found.description }).toEqual({
      id: iat.id,
      maxUses: 2,
      uses: 0,
      description: 'medium',
    });
  });

  it('refuses an unknown token', async () => {
    await expect(iats.authenticate('no-such-token')).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('counts uses up to max_uses, then refuses the token and any further use', async () => {
    const { iat, token } = await iats.mint({ max_uses: 2 });
    await consume(iat);
    await expect(iats.authenticate(token)).resolves.toMatchObject({ uses: 1 });
    await consume(iat);
    await expect(iats.authenticate(token)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(consume(iat)).rejects.toMatchObject({ code: 'invalid_token' });
    const [row] = await medium.sql<{ uses: number }>('SELECT uses FROM initial_access_tokens WHERE id = $1', [iat.id]);
    expect(row.uses).toBe(2);
  });

  it('refuses an expired token, and counts no use of it', async () => {
    const { iat, token } = await iats.mint({ max_uses: 5, expires_in: 3600 });
    await expire(iat.id);
    await expect(iats.authenticate(token)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(consume(iat)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('lets the janitor delete used-up and expired tokens and keep usable ones', async () => {
    const usable = (await iats.mint({ max_uses: 1 })).iat;
    const usedUp = (await iats.mint({ max_uses: 1 })).iat;
    await consume(usedUp);
    const expired = (await iats.mint({ max_uses: 1, expires_in: 60 })).iat;
    await expire(expired.id);
    await medium.get(JanitorService).runOnce();
    const left = await medium.sql<{ id: string }>('SELECT id FROM initial_access_tokens WHERE id = ANY($1)', [[usable.id, usedUp.id, expired.id]]);
    expect(left.map((r) => r.id)).toEqual([usable.id]);
  });
});
