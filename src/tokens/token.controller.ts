import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiConsumes, ApiHeader, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service.js';
import { ApiErrorResponse } from '../common/api-responses.js';
import { allowClientOrigin } from '../common/cors.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { AccessTokensService, type IntrospectionResponse, type TokenResponse } from './access-tokens.service.js';
import { ClientAuthenticationService } from './client-authentication.service.js';
import { DPoPService } from './dpop.service.js';
import { formParams, requiredToken } from './form-params.js';
import { GrantDispatcher } from './grants/grant-dispatcher.service.js';
import { RefreshTokensService } from './refresh-tokens.service.js';
import { ClientTokenParamDto, IntrospectionResponseDto, TokenRequestDto, TokenResponseDto } from './token.dto.js';

/** Client authentication with HTTP Basic (client_secret_basic); client_secret_post and private_key_jwt go in the form body. */
export const CLIENT_BASIC_SECURITY = 'client-basic';

function noStore(res: HttpReply): void {
  res.header('Cache-Control', 'no-store');
  res.header('Pragma', 'no-cache');
}

@ApiTags('oauth2')
@ApiErrorResponse(400, 'RFC 6749 §5.2 error', { invalid_request: ['invalid_request', 'token is required'] })
@ApiErrorResponse(401, 'invalid_client (the same answer for every cause; with a Basic challenge when Basic was tried)', {
  invalid_client: ['invalid_client', 'client authentication failed'],
})
// HTTP Basic, or the credentials in the form body (client_secret_post, private_key_jwt), or none for a public client where allowed.
@ApiSecurity({})
@ApiBasicAuth(CLIENT_BASIC_SECURITY)
@Controller('oauth2')
export class TokenController {
  constructor(
    private readonly auth: ClientAuthenticationService,
    private readonly tokens: AccessTokensService,
    private readonly grants: GrantDispatcher,
    private readonly refreshTokens: RefreshTokensService,
    private readonly dpop: DPoPService,
    private readonly config: ConfigService,
    private readonly database: Database,
    private readonly audit: AuditService,
  ) {}

  @Post('token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Token endpoint (RFC 6749 §3.2): client_credentials, authorization_code (with PKCE), refresh_token, jwt-bearer (RFC 7523) and token-exchange (RFC 8693)',
    operationId: 'oauth2TokenExchange',
  })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TokenRequestDto })
  @ApiHeader({
    name: 'DPoP',
    required: false,
    description:
      'RFC 9449 DPoP proof: one JWT (typ dpop+jwt, an asymmetric alg, the public jwk in its header; jti, htm POST, htu the token endpoint, iat, and nonce when required). ' +
      'The access token is then bound to the key (token_type DPoP, cnf.jkt); required from clients with dpop_bound_access_tokens',
  })
  @ApiOkResponse({
    type: TokenResponseDto,
    headers: { 'DPoP-Nonce': { description: 'With oauth2.dpop.require_nonce: the nonce the next DPoP proof must carry (RFC 9449 §8)', schema: { type: 'string' } } },
  })
  @ApiErrorResponse(
    400,
    'RFC 6749 §5.2 error, a resource indicator error (RFC 8707 §2) or a DPoP error (RFC 9449 §5, §8)',
    {
      invalid_request: ['invalid_request', 'grant_type is required'],
      unsupported_grant_type: ['unsupported_grant_type', 'grant_type password is not supported'],
      invalid_grant: ['invalid_grant', 'the grant was revoked'],
      invalid_dpop_proof: ['invalid_dpop_proof', 'DPoP proof: htm must be POST, the method of this request'],
      use_dpop_nonce: ['use_dpop_nonce', 'this server requires a nonce in DPoP proofs; retry with the one in the DPoP-Nonce header'],
      invalid_target: ['invalid_target', 'resource "https://api.example.com/" was not granted'],
    },
    { 'DPoP-Nonce': { description: 'With use_dpop_nonce: the nonce to put in the next proof', schema: { type: 'string' } } },
  )
  async token(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<TokenResponse> {
    noStore(res);
    const { params, lists } = formParams(req, ['audience', 'resource'], { omitEmpty: true });
    const grant = this.grants.handlerFor(params.grant_type);
    // RFC 9449 §4.3: htu is this endpoint as the issuer names it, never as the Host header does.
    const dpop = await this.dpop.verify(req, { htm: 'POST', htu: `${this.config.issuer()}/oauth2/token` });
    const client = await this.auth.authenticate(req, params, grant.allowsPublicClients);
    allowClientOrigin(req, res, client.fields.allowed_cors_origins);
    if (!dpop && client.fields.dpop_bound_access_tokens === true) {
      // RFC 9449 §5.2: such a client's token requests without a proof are refused.
      throw new OAuthError('invalid_dpop_proof', 'the client is registered with dpop_bound_access_tokens: send a DPoP proof in the DPoP header');
    }
    const response = await this.grants.dispatch(grant, client, { params, lists, dpop });
    // RFC 9449 §8: the nonce the next proof should carry.
    if (this.dpop.nonceRequired()) res.header('DPoP-Nonce', this.dpop.currentNonce());
    return response;
  }

  @Post('introspect')
  @HttpCode(200)
  @ApiOperation({ summary: 'Token introspection (RFC 7662) of tokens issued to, or addressed to, the calling client', operationId: 'introspectOAuth2TokenAsClient' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: ClientTokenParamDto })
  @ApiOkResponse({ type: IntrospectionResponseDto })
  async introspect(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<IntrospectionResponse> {
    noStore(res);
    const { params } = formParams(req, [], { omitEmpty: true });
    const caller = await this.auth.authenticate(req, params, false);
    allowClientOrigin(req, res, caller.fields.allowed_cors_origins);
    const token = requiredToken(params);
    return this.tokens.introspect(token, caller);
  }

  @Post('revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Token revocation (RFC 7009)', operationId: 'revokeOAuth2Token' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: ClientTokenParamDto })
  @ApiOkResponse({ description: 'Revoked, or the token was unknown or already inactive' })
  async revoke(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<void> {
    noStore(res);
    const { params } = formParams(req, [], { omitEmpty: true });
    const caller = await this.auth.authenticate(req, params, true);
    allowClientOrigin(req, res, caller.fields.allowed_cors_origins);
    const token = requiredToken(params);
    await this.database.transaction(async () => {
      const revoked = (await this.refreshTokens.revoke(token, caller))
        ? 'refresh_token'
        : (await this.tokens.revoke(token, caller))
          ? 'access_token'
          : undefined;
      // Unknown and inactive tokens revoke nothing (RFC 7009 §2.2), so they make no event.
      if (revoked) {
        await this.audit.record({ type: 'token.revoked', actor: { type: 'client', client_id: caller.id }, clientId: caller.id, details: { token_type: revoked } });
      }
    });
  }
}
