import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { OAuthError } from '../common/oauth-error.js';
import { AccessTokensService, type IntrospectionResponse, type TokenResponse } from './access-tokens.service.js';
import { ClientAuthenticationService } from './client-authentication.service.js';
import { formParams, requiredToken } from './form-params.js';
import { IntrospectionResponseDto, TokenParamDto, TokenRequestDto, TokenResponseDto } from './token.dto.js';

function noStore(res: HttpReply): void {
  res.header('Cache-Control', 'no-store');
  res.header('Pragma', 'no-cache');
}


@ApiTags('oauth2')
@ApiResponse({ status: 400, type: ErrorResponseDto, description: 'RFC 6749 §5.2 error' })
@ApiResponse({ status: 401, type: ErrorResponseDto, description: 'invalid_client' })
@Controller('oauth2')
export class TokenController {
  constructor(
    private readonly auth: ClientAuthenticationService,
    private readonly tokens: AccessTokensService,
  ) {}

  @Post('token')
  @HttpCode(200)
  @ApiOperation({ summary: 'Token endpoint (RFC 6749 §3.2): the client_credentials grant', operationId: 'oauth2TokenExchange' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto })
  async token(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<TokenResponse> {
    noStore(res);
    const { params, lists } = formParams(req, ['audience']);
    if (!params.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
    if (params.grant_type !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', `grant_type ${params.grant_type} is not supported`);
    }
    const client = await this.auth.authenticate(req, params, false);
    return this.tokens.clientCredentials(client, params.scope, lists.audience ?? []);
  }

  @Post('introspect')
  @HttpCode(200)
  @ApiOperation({ summary: 'Token introspection (RFC 7662) of tokens issued to, or addressed to, the calling client', operationId: 'introspectOAuth2TokenAsClient' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TokenParamDto })
  @ApiOkResponse({ type: IntrospectionResponseDto })
  async introspect(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<IntrospectionResponse> {
    noStore(res);
    const { params } = formParams(req);
    const caller = await this.auth.authenticate(req, params, false);
    return this.tokens.introspect(requiredToken(params), caller);
  }

  @Post('revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Token revocation (RFC 7009)', operationId: 'revokeOAuth2Token' })
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: TokenParamDto })
  @ApiOkResponse({ description: 'Revoked, or the token was unknown or already inactive' })
  async revoke(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<void> {
    noStore(res);
    const { params } = formParams(req);
    const caller = await this.auth.authenticate(req, params, true);
    await this.tokens.revoke(requiredToken(params), caller);
  }
}
