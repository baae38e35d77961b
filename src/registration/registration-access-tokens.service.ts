// The RFC 7592 registration access token of a client, from minting to
// deletion: the one place that decides whether a token is (still) valid.
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../clients/client.entity.js';
import { registrationClientUri } from '../clients/client-views.js';
import { ClientsService } from '../clients/clients.service.js';
import { invalidBearer } from '../common/bearer.js';
import { OAuthError } from '../common/oauth-error.js';
import { safeEqual, tokenHash } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { mintRegistrationToken, type MintedRegistrationToken } from './registration-access-token.js';
import { RegistrationAccessTokensRepository } from './registration-access-tokens.repository.js';

/** Every failure (no token, wrong token, another client's, expired, unknown client) gets the same 401, so nothing leaks. */
function notValid(presented = true): OAuthError {
  return invalidBearer(presented, 'the registration access token is not valid for this client');
}

@Injectable()
export class RegistrationAccessTokensService {
  constructor(
    private readonly clients: ClientsService,
    private readonly tokens: RegistrationAccessTokensRepository,
    private readonly config: ConfigService,
  ) {}

  /** Whether client configuration endpoints (RFC 7592) are served at all. */
  enabled(): boolean {
    return this.config.get('oidc.dynamic_client_registration.registration_access_token.enabled');
  }

  /** A fresh token, or undefined when RFC 7592 management is off. */
  mint(): MintedRegistrationToken | undefined {
    return mintRegistrationToken(this.config.dcr().registrationAccessToken);
  }

  /**
   * RFC 7592 §1: the client named in the path, provided `token` is its current,
   * unexpired registration access token; returns the client and the token's hash.
   */
  async authenticate(clientId: string | undefined, token: string | undefined): Promise<{ client: ClientEntity; hash: string }> {
    const hash = token ? tokenHash(token) : '';
    const client = token && clientId !== undefined ? await this.clients.find(clientId) : null;
    const valid =
      client !== null &&
      client.ratHash !== null &&
      safeEqual(client.ratHash, hash) &&
      (client.ratExpiresAt === null || client.ratExpiresAt.getTime() > Date.now());
    if (!valid) throw notValid(token !== undefined);
    return { client, hash };
  }

  /**
   * Reads the client and holds its row lock until the ambient transaction
   * ends, provided `hash` is still its token: a concurrent update with the
   * same token then sees the rotated one and fails.
   */
  async lockClient(clientId: string, hash: string): Promise<ClientEntity> {
    const client = await this.clients.lockForUpdate(clientId);
    if (!client || client.ratHash !== hash) throw notValid();
    return client;
  }

  /**
   * Replaces the token, provided it is still `expectedHash`, in the ambient
   * transaction; returns the new token, or undefined when rotation is off.
   */
  async rotate(client: ClientEntity, expectedHash: string): Promise<string | undefined> {
    if (!this.config.get('oidc.dynamic_client_registration.registration_access_token.rotate')) return undefined;
    const next = this.mint();
    if (!next) return undefined;
    if (!(await this.tokens.rotate(client.id, expectedHash, next))) {
      throw new OAuthError('invalid_token', 'the registration access token changed during the update');
    }
    client.ratHash = next.hash;
    client.ratExpiresAt = next.expiresAt;
    return next.token;
  }

  /**
   * Replaces the client's token with `next` (minted by the caller) in the
   * ambient transaction, on a row the caller locked: the previous token stops
   * working when it commits.
   */
  async reissue(client: ClientEntity, next: { hash: string; expiresAt: Date | null }): Promise<void> {
    await this.tokens.reissue(client.id, next);
    client.ratHash = next.hash;
    client.ratExpiresAt = next.expiresAt;
  }

  /** RFC 7592 §2.3: deletes the client if `hash` is still its token. */
  async deleteClient(clientId: string, hash: string): Promise<void> {
    if (!(await this.tokens.deleteClient(clientId, hash))) throw notValid();
    await this.clients.invalidate(clientId);
  }

  /** The client's configuration endpoint, when it has a token. */
  clientUri(client: ClientEntity): string | undefined {
    return registrationClientUri(this.config.issuer(), client);
  }
}
