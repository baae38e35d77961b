// Registration authorised by an access token of this server that carries the
// configured scope (README "Registering with an access token"; RFC 7591 §3
// lets the server require an access token of its choice). The token is
// checked as introspection checks it, then for the scope, the audience, its
// client and, for a DPoP-bound token, a proof by its key (RFC 9449 §7.1).
import { Injectable } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import { clientMetadataError, OAuthError } from '../common/oauth-error.js';
import type { HttpRequest } from '../common/http.js';
import { AppLogger } from '../common/logging.js';
import { splitScope } from '../common/scopes.js';
import { ConfigService } from '../config/config.service.js';
import { AccessTokensService } from '../tokens/access-tokens.service.js';
import { DPoPService } from '../tokens/dpop.service.js';

/** Who authorised a registration with an access token, and the policies its client names for what it registers. */
export interface TokenRegistrar {
  clientId: string;
  /** The token's subject: the signed-in user, or the client itself for client_credentials. */
  subject: string;
  policies: string[];
}

/** How the token was presented: `Authorization: Bearer` (RFC 6750) or `Authorization: DPoP` (RFC 9449 §7.1). */
export type TokenScheme = 'Bearer' | 'DPoP';

@Injectable()
export class AccessTokenRegistration {
  constructor(
    private readonly tokens: AccessTokensService,
    private readonly dpop: DPoPService,
    private readonly clients: ClientsService,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
  ) {}

  /** The scope that authorises registration; undefined while the feature is off. */
  scope(): string | undefined {
    return this.config.get('oidc.dynamic_client_registration.access_token.scope');
  }

  /** The registration endpoint's URL as the issuer names it: an audience the token may carry, and a DPoP proof's htu. */
  endpoint(): string {
    return `${this.config.issuer()}/oauth2/register`;
  }

  /**
   * The registrar when the token authorises registration; undefined otherwise,
   * with the reason in the log only, so that the caller answers as for any
   * bad token. A DPoP-bound token that passes every other check is refused
   * with the proof's problem (RFC 9449 §7.1): its holder learns nothing it did
   * not know.
   */
  async authenticate(req: HttpRequest, token: string, scheme: TokenScheme): Promise<TokenRegistrar | undefined> {
    const scope = this.scope();
    if (scope === undefined) return undefined;
    const info = await this.tokens.lookup(token);
    if (!info) return this.refuse('not an active access token of this server (unknown, expired, revoked, or its client deleted)');
    const log = { client_id: info.clientId, jti: info.jti };
    if (!splitScope(info.scope).includes(scope)) return this.refuse('the access token lacks the registration scope', log);
    // RFC 7519 §4.1.3: the token must be meant for this server, not only for another API.
    if (!info.audience.includes(this.config.issuer()) && !info.audience.includes(this.endpoint())) {
      return this.refuse('the access token is not addressed to this server (aud names neither the issuer nor the registration endpoint)', log);
    }
    const client = await this.clients.find(info.clientId);
    // Only an operator hands out the right to register: clients that registered themselves
    // (or are described by their own metadata document) cannot, whatever scope they hold now.
    if (!client || client.createdVia !== 'admin') return this.refuse('the access token was not issued to a client an administrator created', log);
    if (typeof client.fields.scope !== 'string' || !splitScope(client.fields.scope).includes(scope)) {
      return this.refuse("the access token's client no longer has the registration scope", log);
    }
    await this.checkSenderConstraint(req, token, info.jkt, scheme);
    const policies = client.fields.registered_client_policies;
    return { clientId: client.id, subject: info.subject, policies: Array.isArray(policies) ? (policies as string[]) : [] };
  }

  /**
   * The registration scope is the operator's to give: a registrant may not ask
   * for it (nor a policy or software statement give it), or any holder of an
   * IAT could register a client that registers others without limit. An RFC
   * 7592 update may keep it when the client already has it.
   */
  assertNotRequested(fields: Record<string, unknown>, stored?: unknown): void {
    const scope = this.scope();
    if (scope === undefined || typeof fields.scope !== 'string' || !splitScope(fields.scope).includes(scope)) return;
    if (typeof stored === 'string' && splitScope(stored).includes(scope)) return;
    throw clientMetadataError(`scope "${scope}" authorises registering clients; only an administrator can give it`);
  }

  /** RFC 9449 §7.1: a bound token only as `Authorization: DPoP` with a proof by its key naming this request and the token. */
  private async checkSenderConstraint(req: HttpRequest, token: string, jkt: string | undefined, scheme: TokenScheme): Promise<void> {
    if (!jkt) {
      if (scheme === 'DPoP') throw this.dpopError('invalid_token', 'the access token is not DPoP-bound; present it with the Bearer scheme');
      if (req.headers.dpop !== undefined) {
        throw new OAuthError('invalid_request', 'a DPoP proof was sent with a bearer token; DPoP proofs go with DPoP-bound tokens only');
      }
      return;
    }
    if (scheme !== 'DPoP') throw this.dpopError('invalid_token', 'the access token is DPoP-bound: present it as Authorization: DPoP with a DPoP proof');
    const proof = await this.dpop.verify(req, { htm: 'POST', htu: this.endpoint(), accessToken: token }, true);
    if (!proof) throw this.dpopError('invalid_dpop_proof', 'a DPoP proof is required with a DPoP-bound access token');
    if (proof.jkt !== jkt) throw this.dpopError('invalid_dpop_proof', 'DPoP proof: signed by another key than the one the access token is bound to');
  }

  private dpopError(code: 'invalid_token' | 'invalid_dpop_proof', description: string): OAuthError {
    return new OAuthError(code, description, { status: 401, headers: { 'WWW-Authenticate': this.dpop.challenge(code) } });
  }

  private refuse(reason: string, fields: object = {}): undefined {
    this.logger.info({ ...fields, reason }, 'registration refused: the access token does not authorise registration');
    return undefined;
  }
}
