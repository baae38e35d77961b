// What a suspended client may still do (README "Operating a fleet of dynamic
// clients"): its registrant may read and delete it (RFC 7592), nothing else.
import { OAuthError } from '../common/oauth-error.js';
import type { ClientEntity } from './client.entity.js';

export const MAX_SUSPENSION_REASON = 500;

/** A suspended client; a client described by a metadata document never is. */
export function isSuspended(client: Pick<ClientEntity, 'suspendedAt'> | null | undefined): boolean {
  return client?.suspendedAt != null;
}

/** RFC 7592 updates and secret rotations are refused while the client is suspended. */
export function assertNotSuspended(client: ClientEntity): void {
  if (isSuspended(client)) {
    throw new OAuthError('access_denied', 'the client is suspended: it cannot be changed until an administrator resumes it (it may still be read or deleted)');
  }
}

/**
 * Whether a JWT access token issued at `iat` (epoch seconds) was voided by a
 * revoke_tokens of its client. A token of the very second of the revocation is
 * void too: the cut-off errs on the side of ending a token.
 */
export function revokedByCutoff(client: Pick<ClientEntity, 'tokensRevokedAt'>, iat: number): boolean {
  return client.tokensRevokedAt != null && iat <= Math.floor(client.tokensRevokedAt.getTime() / 1000);
}
