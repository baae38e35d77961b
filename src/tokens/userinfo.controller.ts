import { Controller, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CodeFlowEnabledGuard } from '../common/code-flow-enabled.guard.js';
import { bearerToken, invalidBearer } from '../common/bearer.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { mediaType, type HttpReply, type HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { AccessTokensService } from './access-tokens.service.js';
import { formParams } from './form-params.js';
import { GrantsService } from './grants.service.js';
import { extraClaims } from './id-tokens.service.js';

export const USERINFO_SECURITY = 'access-token';

/** OIDC Core §5.3: the claims about the subject of an access token issued with the openid scope. */
@ApiTags('oidc')
@ApiBearerAuth(USERINFO_SECURITY)
@ApiResponse({ status: 401, type: ErrorResponseDto, description: 'Missing, invalid, expired or revoked access token' })
@ApiResponse({ status: 403, type: ErrorResponseDto, description: 'insufficient_scope: the token was not granted openid' })
@UseGuards(CodeFlowEnabledGuard)
@Controller('userinfo')
export class UserinfoController {
  constructor(
    private readonly tokens: AccessTokensService,
    private readonly grants: GrantsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'OpenID Connect userinfo', operationId: 'getOidcUserInfo' })
  @ApiOkResponse({ description: 'sub and the consent session’s id_token claims', schema: { type: 'object', additionalProperties: true } })
  get(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<Record<string, unknown>> {
    return this.userinfo(res, bearerToken(req));
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'OpenID Connect userinfo (the token in the header or, form-encoded, in access_token)', operationId: 'postOidcUserInfo' })
  @ApiOkResponse({ description: 'sub and the consent session’s id_token claims', schema: { type: 'object', additionalProperties: true } })
  post(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<Record<string, unknown>> {
    let token = bearerToken(req);
    if (mediaType(req) === 'application/x-www-form-urlencoded') {
      const { params } = formParams(req);
      // RFC 6750 §2: one method of presenting the token per request.
      if (params.access_token !== undefined && token !== undefined) throw new OAuthError('invalid_request', 'present the access token once');
      token ??= params.access_token;
    }
    return this.userinfo(res, token);
  }

  private async userinfo(res: HttpReply, token: string | undefined): Promise<Record<string, unknown>> {
    res.header('Cache-Control', 'no-store');
    if (token === undefined) throw invalidBearer(false);
    const info = token ? await this.tokens.lookup(token) : undefined;
    if (!info) throw invalidBearer(true, 'the access token is invalid, expired or revoked');
    const grantId = info.grantId ?? (await this.grants.grantOfJwt(info.jti));
    const claims = grantId && info.scope.split(' ').includes('openid') ? await this.grants.userinfoClaims(grantId) : undefined;
    if (!claims) {
      throw new OAuthError('insufficient_scope', 'the access token was not issued with the openid scope', {
        headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="openid"' },
      });
    }
    return { ...extraClaims(claims), sub: info.subject };
  }
}
