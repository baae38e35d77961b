import { Controller, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ClientsService } from '../clients/clients.service.js';
import { CodeFlowEnabledGuard } from '../common/code-flow-enabled.guard.js';
import { allowClientOrigin } from '../common/cors.js';
import { bearerToken, invalidBearer } from '../common/bearer.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { mediaType, type HttpReply, type HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { AccessTokensService } from './access-tokens.service.js';
import { formParams } from './form-params.js';
import { UserinfoService } from './userinfo.service.js';

export const USERINFO_SECURITY = 'access-token';

/** OIDC Core §5.3: the claims about the subject of an access token issued with the openid scope. */
@ApiTags('oidc')
@ApiBearerAuth(USERINFO_SECURITY)
@ApiResponse({ status: 401, type: ErrorResponseDto, description: 'Missing, invalid, expired or revoked access token' })
@ApiResponse({ status: 403, type: ErrorResponseDto, description: 'insufficient_scope: the token was not granted openid' })
// A client with userinfo_signed_response_alg gets the claims as a signed JWT (OIDC Core §5.3.2).
@ApiProduces('application/json', 'application/jwt')
@UseGuards(CodeFlowEnabledGuard)
@Controller('userinfo')
export class UserinfoController {
  constructor(
    private readonly tokens: AccessTokensService,
    private readonly userinfoClaims: UserinfoService,
    private readonly clients: ClientsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'OpenID Connect userinfo', operationId: 'getOidcUserInfo' })
  @ApiOkResponse({ description: 'sub and the consent session’s id_token claims', schema: { type: 'object', additionalProperties: true } })
  get(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<Record<string, unknown> | string> {
    return this.userinfo(req, res, bearerToken(req));
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'OpenID Connect userinfo (the token in the header or, form-encoded, in access_token)', operationId: 'postOidcUserInfo' })
  @ApiOkResponse({ description: 'sub and the consent session’s id_token claims', schema: { type: 'object', additionalProperties: true } })
  post(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<Record<string, unknown> | string> {
    let token = bearerToken(req);
    if (mediaType(req) === 'application/x-www-form-urlencoded') {
      const { params } = formParams(req);
      // RFC 6750 §2: one method of presenting the token per request.
      if (params.access_token !== undefined && token !== undefined) throw new OAuthError('invalid_request', 'present the access token once');
      token ??= params.access_token;
    }
    return this.userinfo(req, res, token);
  }

  private async userinfo(req: HttpRequest, res: HttpReply, token: string | undefined): Promise<Record<string, unknown> | string> {
    res.header('Cache-Control', 'no-store');
    if (token === undefined) throw invalidBearer(false);
    const info = token ? await this.tokens.lookup(token) : undefined;
    if (!info) throw invalidBearer(true, 'the access token is invalid, expired or revoked');
    // A single-page app reads userinfo from an origin its client lists (Hydra's allowed_cors_origins).
    if (req.headers.origin) allowClientOrigin(req, res, (await this.clients.find(info.clientId))?.fields.allowed_cors_origins);
    const answer = await this.userinfoClaims.claims(info);
    if (!answer) {
      throw new OAuthError('insufficient_scope', 'the access token was not issued with the openid scope', {
        headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="openid"' },
      });
    }
    if ('claims' in answer) return answer.claims;
    // OIDC Core §5.3.2: a signed response is the JWT itself, as application/jwt.
    res.header('Content-Type', 'application/jwt');
    return answer.jwt;
  }
}
