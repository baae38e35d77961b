// Minting an RFC 7592 registration access token. Every client gets one at
// creation, through either door, so the admin door uses this too.
import { randomToken, tokenHash } from '../common/secrets.js';

/** A token as shown once to the registrant, and as stored. */
export interface MintedRegistrationToken {
  token: string;
  hash: string;
  expiresAt: Date | null;
}

/** A fresh token, or undefined when RFC 7592 management is off; `ttl` in seconds, undefined: it never expires. */
export function mintRegistrationToken(settings: { enabled: boolean; ttl: number | undefined }): MintedRegistrationToken | undefined {
  if (!settings.enabled) return undefined;
  const token = randomToken(32);
  return { token, hash: tokenHash(token), expiresAt: settings.ttl ? new Date(Date.now() + settings.ttl * 1000) : null };
}
