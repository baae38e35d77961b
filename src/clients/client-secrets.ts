// The secrets a client may authenticate with: the current one and those a
// rotation replaced, each valid until its expiry (README "Rotating client
// secrets"). Pure functions over the client row; ClientsService stores them.
import type { ClientEntity } from './client.entity.js';

/** A secret replaced by a rotation, as stored in clients.rotated_secrets. */
export interface RotatedSecret {
  /** The stored hash, as secret_hash holds it (`sha256$...` or `scrypt$...`). */
  hash: string;
  /** Encrypted under secrets.system; only while the client uses client_secret_jwt. */
  encrypted?: string;
  created_at: string;
  expires_at: string;
}

/** A secret that authenticates now. */
export interface UsableSecret {
  hash: string;
  encrypted: string | null;
}

/** Rotated secrets kept at most; a rotation beyond that ends the oldest at once (Hydra keeps five too). */
export const MAX_ROTATED_SECRETS = 5;

function currentValid(client: ClientEntity, now: number): boolean {
  return client.secretHash !== null && (client.secretExpiresAt === null || client.secretExpiresAt.getTime() > now);
}

function stillValid(secret: RotatedSecret, now: number): boolean {
  return Date.parse(secret.expires_at) > now;
}

/** Every secret that authenticates the client at `now`, the current one first. */
export function usableSecrets(client: ClientEntity, now = Date.now()): UsableSecret[] {
  const usable: UsableSecret[] = [];
  if (currentValid(client, now)) usable.push({ hash: client.secretHash!, encrypted: client.secretEncrypted });
  for (const secret of client.rotatedSecrets ?? []) {
    if (stillValid(secret, now)) usable.push({ hash: secret.hash, encrypted: secret.encrypted ?? null });
  }
  return usable;
}

/**
 * The rotated secrets after the current one is replaced: the current secret
 * joins them until now + overlap (or its own earlier expiry), expired ones
 * go, and at most MAX_ROTATED_SECRETS stay, the newest first.
 */
export function rotatedAfterRotation(client: ClientEntity, overlapSeconds: number, now = Date.now()): RotatedSecret[] {
  const kept = (client.rotatedSecrets ?? []).filter((s) => stillValid(s, now));
  if (overlapSeconds > 0 && currentValid(client, now)) {
    const overlapEnd = now + overlapSeconds * 1000;
    const expires = client.secretExpiresAt ? Math.min(client.secretExpiresAt.getTime(), overlapEnd) : overlapEnd;
    const previous: RotatedSecret = {
      hash: client.secretHash!,
      created_at: (client.secretCreatedAt ?? client.createdAt).toISOString(),
      expires_at: new Date(expires).toISOString(),
    };
    if (client.secretEncrypted) previous.encrypted = client.secretEncrypted;
    kept.unshift(previous);
  }
  return kept.slice(0, MAX_ROTATED_SECRETS);
}

/** The admin view's `client_secrets`: when each valid secret was issued and when it stops working, no values. */
export function secretsView(client: ClientEntity, now = Date.now()): Array<Record<string, unknown>> {
  const view: Array<Record<string, unknown>> = [];
  if (currentValid(client, now)) {
    view.push({
      created_at: (client.secretCreatedAt ?? client.createdAt).toISOString(),
      expires_at: client.secretExpiresAt?.toISOString() ?? null,
      current: true,
    });
  }
  for (const secret of client.rotatedSecrets ?? []) {
    if (stillValid(secret, now)) view.push({ created_at: secret.created_at, expires_at: secret.expires_at, current: false });
  }
  return view;
}
