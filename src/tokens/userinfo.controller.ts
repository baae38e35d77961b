import { Controller, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ClientsService } from '../clients/clients.service.js';
import { CodeFlowEnabledGuard } from '../common/code-flow-enabled.guard.js';
import { allowClientOrigin } from '../common/cors.js';
import { bearerToken, dpopToken, invalidBearer } from '../common/bearer.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { mediaType, type HttpReply, type HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { AccessTokensService, type TokenInfo } from './access-tokens.service.js';
import { DPoPService } from './dpop.service.js';
import { formParams } from './form-params.js';
import { UserinfoService } from './userinfo.service.js';

export const USERINFO_SECURITY = 'access-token';

/** How the access token was presented: RFC 6750 (header or form body) or RFC 9449 §7.1. */
type Scheme = 'Bearer' | 'DPoP';

/** OIDC Core §5.3: the claims about the subject of an access token issued with the openid scope. */
@ApiTags('oidc')
@ApiBearerAuth(USERINFO_SECURITY)
@ApiHeader({
  name: 'DPoP',
  required: false,
  description:
    'RFC 9449 §7.1: with a DPoP-bound access token (sent as Authorization: DPoP <token>), a proof signed by its key with htm, htu <issuer>/userinfo and ath',
})
@ApiResponse({
  status: 401,
  type: ErrorResponseDto,
  description:
    'Missing, invalid, expired or revoked access token (invalid_token); a DPoP-bound token without a valid proof (invalid_dpop_proof), or a nonce required (use_dpop_nonce, with DPoP-Nonce)',
})
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
    private readonly dpop: DPoPService,
    private readonly config: ConfigService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'OpenID Connect userinfo', operationId: 'getOidcUserInfo' })
  @ApiOkResponse({ description: 'sub and the consent session’s id_token claims', schema: { type: 'object', additionalProperties: true } })
  get(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<Record<string, unknown> | string> {
    const dpop = dpopToken(req);
    return dpop !== undefined ? this.userinfo(req, res, dpop, 'DPoP') : this.userinfo(req, res, bearerToken(req), 'Bearer');
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'OpenID Connect userinfo (the token in the header or, form-encoded, in access_token)', operationId: 'postOidcUserInfo' })
  @ApiOkResponse({ description: 'sub and the consent session’s id_token claims', schema: { type: 'object', additionalProperties: true } })
  post(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<Record<string, unknown> | string> {
    const dpop = dpopToken(req);
    let token = dpop ?? bearerToken(req);
    if (mediaType(req) === 'application/x-www-form-urlencoded') {
      const { params } = formParams(req);
      // RFC 6750 §2: one method of presenting the token per request.
      if (params.access_token !== undefined && token !== undefined) throw new OAuthError('invalid_request', 'present the access token once');
      token ??= params.access_token;
    }
    return this.userinfo(req, res, token, dpop !== undefined ? 'DPoP' : 'Bearer');
  }

  private async userinfo(req: HttpRequest, res: HttpReply, token: string | undefined, scheme: Scheme): Promise<Record<string, unknown> | string> {
    res.header('Cache-Control', 'no-store');
    if (token === undefined) throw invalidBearer(false);
    const info = token ? await this.tokens.lookup(token) : undefined;
    if (!info) {
      if (scheme === 'DPoP') throw this.invalidDPoPToken('the access token is invalid, expired or revoked');
      throw invalidBearer(true, 'the access token is invalid, expired or revoked');
    }
    await this.checkSenderConstraint(req, token!, info, scheme);
    if (this.dpop.nonceRequired() && info.jkt) res.header('DPoP-Nonce', this.dpop.currentNonce());
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

  /**
   * RFC 9449 §7: a DPoP-bound token is accepted only as `Authorization: DPoP`
   * with a proof signed by its key and naming it in ath; a bearer token only as Bearer.
   */
  private async checkSenderConstraint(req: HttpRequest, token: string, info: TokenInfo, scheme: Scheme): Promise<void> {
    if (!info.jkt) {
      if (scheme === 'DPoP') throw this.invalidDPoPToken('the access token is not DPoP-bound; present it with the Bearer scheme');
      if (req.headers.dpop !== undefined) {
        throw new OAuthError('invalid_request', 'a DPoP proof was sent with a bearer token; DPoP proofs go with DPoP-bound tokens only');
      }
      return;
    }
    if (scheme !== 'DPoP') throw this.invalidDPoPToken('the access token is DPoP-bound: present it as Authorization: DPoP with a DPoP proof');
    const proof = await this.dpop.verify(req, { htm: req.method, htu: `${this.config.issuer()}/userinfo`, accessToken: token }, true);
    if (!proof) {
      throw new OAuthError('invalid_dpop_proof', 'a DPoP proof is required with a DPoP-bound access token', {
        status: 401,
        headers: { 'WWW-Authenticate': this.dpop.challenge('invalid_dpop_proof') },
      });
    }
    if (proof.jkt !== info.jkt) {
      throw new OAuthError('invalid_dpop_proof', 'DPoP proof: signed by another key than the one the access token is bound to', {
        status: 401,
        headers: { 'WWW-Authenticate': this.dpop.challenge('invalid_dpop_proof') },
      });
    }
  }

  private invalidDPoPToken(description: string): OAuthError {
    return new OAuthError('invalid_token', description, { headers: { 'WWW-Authenticate': this.dpop.challenge('invalid_token') } });
  }
}
