// Which secrets authenticate a client, and what a rotation leaves behind (README "Rotating client secrets").
import { describe, expect, it } from '@jest/globals';
import { MAX_ROTATED_SECRETS, rotatedAfterRotation, secretsView, usableSecrets, type RotatedSecret } from '../../src/clients/client-secrets.js';
import { ClientEntity } from '../../src/clients/client.entity.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toISOString();

function client(overrides: Partial<ClientEntity> = {}): ClientEntity {
  return Object.assign(new ClientEntity(), {
    id: 'c1',
    createdAt: new Date(NOW - 86400_000),
    secretHash: 'sha256$current',
    secretCreatedAt: new Date(NOW - 3600_000),
    secretExpiresAt: null,
    secretEncrypted: null,
    rotatedSecrets: [] as RotatedSecret[],
    ...overrides,
  });
}

const rotated = (hash: string, expiresIn: number, encrypted?: string): RotatedSecret => ({
  hash,
  created_at: iso(-7200),
  expires_at: iso(expiresIn),
  ...(encrypted ? { encrypted } : {}),
});

describe('usableSecrets', () => {
  it('lists the current secret first, then the rotated ones that have not expired', () => {
    const c = client({ rotatedSecrets: [rotated('sha256$a', 60, 'enc-a'), rotated('sha256$gone', -1), rotated('sha256$b', 1)] });
    expect(usableSecrets(c, NOW)).toEqual([
      { hash: 'sha256$current', encrypted: null },
      { hash: 'sha256$a', encrypted: 'enc-a' },
      { hash: 'sha256$b', encrypted: null },
    ]);
  });

  it('leaves out an expired current secret, and a secret that expires exactly now', () => {
    const c = client({ secretExpiresAt: new Date(NOW), rotatedSecrets: [rotated('sha256$now', 0)] });
    expect(usableSecrets(c, NOW)).toEqual([]);
  });
});

describe('rotatedAfterRotation', () => {
  it('keeps the current secret until now + overlap, newest first, with its creation time and ciphertext', () => {
    const c = client({ secretEncrypted: 'enc-current', rotatedSecrets: [rotated('sha256$older', 600)] });
    expect(rotatedAfterRotation(c, 3600, NOW)).toEqual([
      { hash: 'sha256$current', encrypted: 'enc-current', created_at: iso(-3600), expires_at: iso(3600) },
      rotated('sha256$older', 600),
    ]);
  });

  it('never extends a secret beyond its own expiry', () => {
    const c = client({ secretExpiresAt: new Date(NOW + 120_000) });
    expect(rotatedAfterRotation(c, 3600, NOW)[0].expires_at).toBe(iso(120));
  });

  it('with no overlap keeps nothing of the current secret, and drops expired rotated ones', () => {
    const c = client({ rotatedSecrets: [rotated('sha256$live', 60), rotated('sha256$dead', -60)] });
    expect(rotatedAfterRotation(c, 0, NOW).map((s) => s.hash)).toEqual(['sha256$live']);
  });

  it(`keeps at most ${MAX_ROTATED_SECRETS}, ending the oldest`, () => {
    const c = client({ rotatedSecrets: [1, 2, 3, 4, 5].map((i) => rotated(`sha256$r${i}`, 600)) });
    expect(rotatedAfterRotation(c, 60, NOW).map((s) => s.hash)).toEqual(['sha256$current', 'sha256$r1', 'sha256$r2', 'sha256$r3', 'sha256$r4']);
  });

  it('takes the client\'s creation time for a secret stored before issue times were recorded', () => {
    expect(rotatedAfterRotation(client({ secretCreatedAt: null }), 60, NOW)[0].created_at).toBe(iso(-86400));
  });
});

describe('secretsView', () => {
  it('shows issue and expiry times of the valid secrets, never a hash or ciphertext', () => {
    const c = client({ secretEncrypted: 'enc', rotatedSecrets: [rotated('sha256$a', 60, 'enc-a'), rotated('sha256$gone', -60)] });
    expect(secretsView(c, NOW)).toEqual([
      { created_at: iso(-3600), expires_at: null, current: true },
      { created_at: iso(-7200), expires_at: iso(60), current: false },
    ]);
  });

  it('is empty for a client without a secret', () => {
    expect(secretsView(client({ secretHash: null, secretCreatedAt: null }), NOW)).toEqual([]);
  });
});
