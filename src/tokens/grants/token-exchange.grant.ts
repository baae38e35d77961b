// RFC 8693: token exchange. A client an admin gave the grant type presents an
// access token of this server (the subject token), and optionally another
// (the actor token), and gets a new access token for the same subject,
// narrower in scope and audience, naming the actor (README "Token exchange").
import { Injectable } from '@nestjs/common';
import { TOKEN_EXCHANGE_GRANT } from '../../clients/client-metadata.js';
import type { ClientEntity } from '../../clients/client.entity.js';
import { ClientActivityService } from '../../clients/client-activity.service.js';
import { OAuthError } from '../../common/oauth-error.js';
import { checkedResources, clientAudience } from '../../common/resource-indicators.js';
import { splitScope } from '../../common/scopes.js';
import { ConfigService } from '../../config/config.service.js';
import { AccessTokensService, type TokenInfo, type TokenResponse } from '../access-tokens.service.js';
import type { GrantHandler, TokenRequest } from './grant-handler.js';

/** RFC 8693 §3: the one token type Registrar accepts and issues. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** How many actors an act claim may nest (RFC 8693 §4.1); each exchange adds one. */
const MAX_ACTOR_DEPTH = 10;

function invalidRequest(description: string): OAuthError {
  return new OAuthError('invalid_request', description);
}

function tokenType(params: Record<string, string>, name: string): void {
  const value = params[name];
  if (value !== undefined && value !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest(`${name} ${value.slice(0, 100)} is not supported; only ${ACCESS_TOKEN_TYPE} is`);
  }
}

function depth(act: Record<string, unknown> | undefined): number {
  let n = 0;
  for (let a: unknown = act; a && typeof a === 'object'; a = (a as Record<string, unknown>).act) n += 1;
  return n;
}

@Injectable()
export class TokenExchangeGrant implements GrantHandler {
  readonly grantType = TOKEN_EXCHANGE_GRANT;
  readonly allowsPublicClients = false;

  constructor(
    private readonly config: ConfigService,
    private readonly accessTokens: AccessTokensService,
    private readonly activity: ClientActivityService,
  ) {}

  enabled(): boolean {
    return this.config.get('oauth2.grant.token_exchange.enabled') === true;
  }

  async handle(client: ClientEntity, request: TokenRequest): Promise<TokenResponse> {
    const { params, lists } = request;
    if (!params.subject_token) throw invalidRequest('subject_token is required');
    if (!params.subject_token_type) throw invalidRequest('subject_token_type is required');
    tokenType(params, 'subject_token_type');
    if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
      throw invalidRequest('actor_token and actor_token_type go together (RFC 8693 §2.1)');
    }
    tokenType(params, 'actor_token_type');
    tokenType(params, 'requested_token_type');

    const subject = await this.presented(client, params.subject_token, 'subject_token');
    const actor = params.actor_token === undefined ? undefined : await this.presented(client, params.actor_token, 'actor_token');
    // §4.1: the new actor outermost, the subject token's actors nested as prior ones.
    const act = actor ? { sub: actor.subject, ...(subject.act ? { act: subject.act } : {}) } : subject.act;
    if (depth(act) > MAX_ACTOR_DEPTH) throw invalidRequest(`the actor chain would be longer than ${MAX_ACTOR_DEPTH}`);

    const response = await this.accessTokens.issue(client, this.grantType, {
      subject: subject.subject,
      scope: this.scope(params.scope, subject, client).join(' '),
      audience: this.audience(lists.audience ?? [], lists.resource ?? [], client),
      act,
      // Revoking the subject token's grant revokes what was exchanged from it, and it ends no later.
      grantId: subject.grantId,
      ext: subject.ext,
      notAfter: subject.expiresAt,
      // RFC 9449 §5: a proof sent with the exchange binds the new token to its key.
      jkt: request.dpop?.jkt,
    });
    await this.activity.touch(client);
    return { ...response, issued_token_type: ACCESS_TOKEN_TYPE };
  }

  /**
   * An active access token of this server that was issued to the client or
   * names it in its audience: the client is the one it was meant for.
   */
  private async presented(client: ClientEntity, token: string, name: string): Promise<TokenInfo> {
    const info = await this.accessTokens.lookupForExchange(token);
    if (!info) throw invalidRequest(`${name} is not an active access token issued by this server`);
    if (info.clientId !== client.id && !info.audience.includes(client.id)) {
      throw invalidRequest(`${name} was neither issued to this client nor addressed to it`);
    }
    return info;
  }

  /** Within the subject token's scope and the client's; omitted, every scope both have. */
  private scope(requested: string | undefined, subject: TokenInfo, client: ClientEntity): string[] {
    const subjectScope = splitScope(subject.scope);
    const clientScope = splitScope(typeof client.fields.scope === 'string' ? client.fields.scope : undefined);
    if (requested === undefined) return subjectScope.filter((s) => clientScope.includes(s));
    const scope = splitScope(requested);
    const wider = scope.filter((s) => !subjectScope.includes(s));
    if (wider.length > 0) throw new OAuthError('invalid_scope', `the subject_token was not granted: ${wider.join(' ')}`);
    const beyondClient = scope.filter((s) => !clientScope.includes(s));
    if (beyondClient.length > 0) throw new OAuthError('invalid_scope', `the client may not request: ${beyondClient.join(' ')}`);
    return scope;
  }

  /**
   * RFC 8693 §2.2.2: a target outside the client's audience is invalid_target,
   * for `audience` values and for `resource` indicators (which must also be
   * absolute URIs, RFC 8707 §2).
   */
  private audience(audiences: string[], resources: string[], client: ClientEntity): string[] {
    const allowed = clientAudience(client.fields);
    const audience = [...new Set(audiences.flatMap((a) => splitScope(a)))];
    const outside = audience.filter((a) => !allowed.includes(a));
    if (outside.length > 0) throw new OAuthError('invalid_target', `the client may not request the audience or resource: ${outside.join(' ')}`);
    return [...new Set([...audience, ...checkedResources(resources, allowed, 'is not a resource the client may request')])];
  }
}
